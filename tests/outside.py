"""Clients outside the app's event loop: what another process sees while the app works.

A client coroutine in the app's own event loop can't time a stall: while the loop is
held it can't send either, so a request due then goes out afterwards and looks quick.
`Outside` runs client coroutines in a thread of their own, with their own event loop and
connections; a request sent while the app's loop is held waits for it, and its time says
so. The tests and the benchmarks use it to measure how long the app holds its loop.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

from aiohttp import ClientSession

Client = Callable[[ClientSession], Coroutine[Any, Any, None]]


class Outside:
    """`async with Outside(client, ...)`: each client runs (in another thread, with a
    session of its own) until the block ends; then it is cancelled and waited for. A
    client's own failure is raised at the end of the block."""

    def __init__(self, *clients: Client) -> None:
        self._clients = clients
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with ClientSession() as session:
            tasks = [asyncio.create_task(client(session)) for client in self._clients]
            self._started.set()
            stopped = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                    self._error = outcome
            stopped.cancel()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by __aexit__
            self._error = error
        finally:
            self._started.set()

    async def __aenter__(self) -> Outside:
        self._thread = threading.Thread(target=self._run, name="outside-clients", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        assert self._thread is not None
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        # Awaited, not joined: the clients' last requests need this loop to be answered.
        await asyncio.to_thread(self._thread.join)
        if self._error is not None and kind is None:
            raise self._error


class Pinger:
    """A client asking `url` back to back (5 ms apart): `slowest` is the longest answer (s),
    i.e. the longest any request waited on the app; `count` how many were answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.count = 0

    async def __call__(self, session: ClientSession) -> None:
        while True:
            started = time.perf_counter()
            async with session.get(self.url) as response:
                await response.read()
                if response.status != 200:
                    raise AssertionError(f"{self.url} answered {response.status}")
            self.slowest = max(self.slowest, time.perf_counter() - started)
            self.count += 1
            await asyncio.sleep(0.005)
