"""Clients in a process of their own, as clients on the network are: for upload_bench.py.

    python benchmarks/outside_clients.py CONFIG.json

CONFIG: {"bot": base URL, "tokens": [device tokens], "codes": [[mac, code], ...]}. Until
SIGTERM, it asks `/healthz` back to back (5 ms apart) and runs a light device load: every
50 ms one request, alternately a provisioned device's `GET /api/devices/me` and a
technician's `POST /api/devices/provision` with one of the codes. It prints "ready" once
started, and at the end one JSON line: {"healthz": [...], "me": [...], "provision":
[...]}, each the seconds every answer took. Being another process, its own work never
waits on the app's interpreter (a client thread in the app's process waits for the GIL
too, which would count in its figures).
"""
from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
import time
from typing import Any

import aiohttp

DEVICE = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}


async def main(config: dict[str, Any]) -> dict[str, list[float]]:
    bot, tokens, codes = config["bot"], config["tokens"], [tuple(c) for c in config["codes"]]
    timings: dict[str, list[float]] = {"healthz": [], "me": [], "provision": []}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def timed(kind: str, request: Any) -> None:
        started = time.perf_counter()
        async with request as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"{kind} answered {response.status}")
        timings[kind].append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        async def ping() -> None:
            while not stop.is_set():
                await timed("healthz", session.get(f"{bot}/healthz"))
                await asyncio.sleep(0.005)

        async def devices() -> None:
            under_way: set[asyncio.Task[None]] = set()
            for n in itertools.count():
                if stop.is_set():
                    break
                if n % 2 or not codes:
                    request = timed("me", session.get(f"{bot}/api/devices/me",
                                                      headers={"Authorization": f"Bearer {tokens[n % len(tokens)]}"}))
                else:
                    mac, code = codes.pop()
                    request = timed("provision", session.post(f"{bot}/api/devices/provision",
                                                              json={"mac": mac, "verification_code": code, **DEVICE}))
                task = asyncio.get_running_loop().create_task(request)
                under_way.add(task)
                task.add_done_callback(under_way.discard)
                await asyncio.sleep(0.05)
            await asyncio.gather(*under_way)

        print("ready", flush=True)
        await asyncio.gather(ping(), devices())
    return timings


if __name__ == "__main__":
    with open(sys.argv[1]) as file:
        print(json.dumps(asyncio.run(main(json.load(file)))), flush=True)
