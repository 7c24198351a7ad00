"""Chat-turn throughput: our bot against a stock botbuilder `CloudAdapter` bot.

One invocation starts, one after the other, three servers on 127.0.0.1 and drives each
with the same load: 16 concurrent keep-alive connections posting the Emulator-shaped
`help` message (tests/fixtures/activities/emulator_message.json) with
`deliveryMode: "expectReplies"`, a warm-up, then a fixed measuring window. Every
response must be 200 with exactly one reply holding one Adaptive Card, or the run fails.

- ours:  `bot.app.create_app(Settings(data_dir=<tmp>))`, no app id, logging set up the way
         `provisioning-bot serve` does (INFO, to a file here so the table stays readable).
- stock: botbuilder 4.17.1 as its samples wire it: `CloudAdapter(ConfigurationBotFrameworkAuthentication)`
         with an empty app id and an `ActivityHandler` answering one card (the same card
         ours sends, captured from our first reply). The handler calls
         `adapter.process_activity(auth_header, activity, bot.on_turn)` with the header
         string, so every turn pays the stock cost (authenticate, a new ConnectorClient, a
         new UserTokenClient). Not `CloudAdapter.process()`: it answers 500 for
         expectReplies in 4.17.1 (it serializes the already serialized body again).
- bare:  a plain aiohttp handler returning the same reply body: the ceiling of this load
         generator on this machine, so a reader can see the client is not the bottleneck.

Processes: the machine this targets has 2 cores. Each server runs alone in its own
(spawned) process while the load generator runs in this one, so the server under test
has a core to itself and the client does not steal its CPU; servers never overlap.
Both servers log as `provisioning-bot serve` does (INFO, aiohttp access log off).
Besides turns/s and client-side latency, the table gives the server process's CPU time
per turn (all turns it answered between the start and the end of the window), which
is less sensitive than turns/s to other work on a shared machine; the load average
is printed for the same reason.

    .venv/bin/python benchmarks/turns_bench.py [--seconds 5] [--warmup 1] [--profile]

`--profile` profiles our server over its measuring window and prints the call tree
(pyinstrument, a sampling profiler, if installed in the venv; else cProfile with CPU
time). Profiling slows the server: its table row is then not a measurement.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "activities" / "emulator_message.json"
CONNECTIONS = 16
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
GOAL_RATIO = 8.0
GOAL_P99_MS = 50.0


# ---------------------------------------------------------------- servers (child processes)

def _serve(build: Callable[[], Any], conn: Connection, profile: bool = False) -> None:
    """Run the aiohttp app `build()` returns on a free loopback port until told to stop.

    The parent talks over `conn`: we send the port, then answer "begin" and "end" with
    this process's CPU seconds (starting and stopping the profiler, if any), and leave on
    "stop".
    """
    from aiohttp import web

    async def main() -> None:
        app = build()
        if inspect.isawaitable(app):  # ours is built by an async factory
            app = await app
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        profiler = _Profiler() if profile else None

        def commands() -> None:  # a thread: the pipe is blocking, the loop must not be
            conn.send(port)
            while True:
                message = conn.recv()
                if message == "begin":
                    if profiler:  # started on the loop's thread: both profilers watch one thread
                        loop.call_soon_threadsafe(profiler.start)
                    conn.send(time.process_time())
                elif message == "end":
                    if profiler:
                        loop.call_soon_threadsafe(profiler.stop)
                    conn.send(time.process_time())
                elif message == "stop":
                    loop.call_soon_threadsafe(stopped.set)
                    return

        threading.Thread(target=commands, daemon=True).start()
        await stopped.wait()
        await runner.cleanup()
        if profiler:
            profiler.report()

    asyncio.run(main())


class _Profiler:
    """pyinstrument (sampling, so small functions are not inflated) if installed, else cProfile."""

    def __init__(self) -> None:
        try:
            from pyinstrument import Profiler
        except ImportError:
            import cProfile

            # CPU time, not wall time: on a shared machine, waiting for a core is not our cost.
            self._cprofile: Any = cProfile.Profile(time.process_time)
            self._sampler: Any = None
        else:
            self._sampler = Profiler(interval=0.0002, async_mode="disabled")
            self._cprofile = None

    def start(self) -> None:
        if self._sampler:
            self._sampler.start()
        else:
            self._cprofile.enable()

    def stop(self) -> None:
        if self._sampler:
            self._sampler.stop()
        else:
            self._cprofile.disable()

    def report(self) -> None:
        print("\n--- our server over its measuring window ---", flush=True)
        if self._sampler:
            print(self._sampler.output_text(unicode=True, color=False), flush=True)
            return
        import pstats

        stats = pstats.Stats(self._cprofile, stream=sys.stdout).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        sys.stdout.flush()


def _log_like_serve(log_file: str) -> None:
    """Logging as `provisioning-bot serve` sets it up, but to a file."""
    import logging

    logging.basicConfig(level="INFO", filename=log_file, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def serve_ours(conn: Connection, data_dir: str, log_file: str, profile: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from bot.app import create_app
    from bot.settings import Settings

    _log_like_serve(log_file)
    _serve(lambda: create_app(Settings(data_dir=Path(data_dir))), conn, profile)


def serve_stock(conn: Connection, card: dict[str, Any], log_file: str) -> None:
    from types import SimpleNamespace

    from aiohttp import web
    from botbuilder.core import ActivityHandler, CardFactory, MessageFactory, TurnContext
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
    from botbuilder.schema import Activity

    _log_like_serve(log_file)

    class CardBot(ActivityHandler):
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            await turn_context.send_activity(MessageFactory.attachment(CardFactory.adaptive_card(card)))

    def build() -> web.Application:
        config = SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
        adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
        bot = CardBot()

        # The samples' handler shape, with process_activity in place of process() (see above).
        async def messages(request: web.Request) -> web.Response:
            if "application/json" not in request.headers.get("Content-Type", ""):
                return web.Response(status=415)
            activity = Activity().deserialize(await request.json())
            auth_header = request.headers.get("Authorization", "")
            response = await adapter.process_activity(auth_header, activity, bot.on_turn)
            if response:
                return web.json_response(data=response.body, status=response.status)
            return web.Response(status=201)

        app = web.Application()
        app.router.add_post("/api/messages", messages)
        return app

    _serve(build, conn)


def serve_bare(conn: Connection, reply_body: bytes) -> None:
    from aiohttp import web

    async def messages(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=reply_body, content_type="application/json")

    def build() -> web.Application:
        app = web.Application()
        app.router.add_post("/api/messages", messages)
        return app

    _serve(build, conn)


# ---------------------------------------------------------------- load generator (this process)

class BadResponse(AssertionError):
    """A response that is not 200 with exactly one reply carrying one Adaptive Card."""


@dataclass
class Result:
    name: str
    turns: int  # answered inside the window
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float
    served: int  # answered while the server's CPU was counted: the window and its in-flight tail

    @property
    def rate(self) -> float:
        return self.turns / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def cpu_ms_per_turn(self) -> float:
        return self.cpu_seconds * 1000 / self.served


def activity_template() -> bytes:
    body = json.loads(FIXTURE.read_text())
    body["deliveryMode"] = "expectReplies"
    body["id"] = "@ID@"
    return json.dumps(body).encode()


def check(status: int, payload: bytes) -> dict[str, Any]:
    if status != 200:
        raise BadResponse(f"HTTP {status}: {payload[:300]!r}")
    replies = json.loads(payload).get("activities") or []
    cards = [a for r in replies for a in r.get("attachments") or [] if a.get("contentType") == CARD_TYPE]
    if len(replies) != 1 or len(cards) != 1:
        raise BadResponse(f"expected one reply with one card, got {len(replies)} replies, {len(cards)} cards")
    return cards[0]["content"]


@dataclass
class Run:
    window: float
    latencies_ms: list[float]  # one per turn answered inside the window
    served: int  # every turn answered, in-flight tail included
    card: dict[str, Any]


async def drive(port: int, seconds: float) -> Run:
    """16 workers over 16 keep-alive connections for `seconds`.

    Requests still in flight when the window closes are checked but not counted.
    """
    import aiohttp

    url = f"http://127.0.0.1:{port}/api/messages"
    template = activity_template()
    headers = {"Content-Type": "application/json"}
    counter = iter(range(10**9))
    latencies: list[float] = []
    card: dict[str, Any] = {}
    served = 0
    over = False

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal card, served
        while not over:
            body = template.replace(b"@ID@", f"bench-{next(counter)}".encode())
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
            elapsed = (time.perf_counter() - started) * 1000
            card = check(status, payload)
            served += 1
            if not over:
                latencies.append(elapsed)

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        workers = [asyncio.create_task(worker(session)) for _ in range(CONNECTIONS)]
        await asyncio.sleep(seconds)
        over = True
        window = time.perf_counter() - start
        await asyncio.gather(*workers)
    return Run(window, latencies, served, card)


def measure(
    name: str, target: Callable[..., None], args: tuple[Any, ...], warmup: float, seconds: float
) -> tuple[Result, dict[str, Any]]:
    context = multiprocessing.get_context("spawn")  # a clean interpreter: nothing inherited from here
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args), name=name)
    process.start()
    try:
        port = parent.recv()
        asyncio.run(drive(port, warmup))  # first turns import lazily and fill caches
        parent.send("begin")
        cpu_start = parent.recv()
        run = asyncio.run(drive(port, seconds))
        parent.send("end")
        cpu_end = parent.recv()
    finally:
        with contextlib.suppress(OSError):  # the server is gone already; join() below reaps it
            parent.send("stop")
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    result = Result(name, len(run.latencies_ms), run.window, run.latencies_ms, cpu_end - cpu_start, run.served)
    return result, run.card


def table(results: list[Result]) -> str:
    rows = ["| bot | turns/s | p50 ms | p99 ms | server CPU ms/turn |", "|---|---:|---:|---:|---:|"]
    for r in results:
        rows.append(
            f"| {r.name} | {r.rate:,.0f} | {r.percentile(50):.1f} | {r.percentile(99):.1f} | {r.cpu_ms_per_turn:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring window per bot (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up per bot (default 1)")
    parser.add_argument("--profile", action="store_true", help="profile our server over its window")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="turns-bench-") as tmp:
        ours, card = measure("provisioning-bot", serve_ours,
                             (str(Path(tmp) / "data"), str(Path(tmp) / "ours.log"), args.profile),
                             args.warmup, args.seconds)
        stock, _ = measure("stock CloudAdapter bot", serve_stock, (card, str(Path(tmp) / "stock.log")),
                           args.warmup, args.seconds)
        reply = {"activities": [{"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": card}]}]}
        bare, _ = measure("bare aiohttp handler (load-generator ceiling)", serve_bare, (json.dumps(reply).encode(),),
                          args.warmup, args.seconds)

    ratio = ours.rate / stock.rate
    p99 = ours.percentile(99)
    print(f"\n{CONNECTIONS} connections, Emulator `help` with expectReplies, {args.seconds:g} s per bot after "
          f"{args.warmup:g} s warm-up; every response checked (200, one card). Python {platform.python_version()}, "
          f"{os.cpu_count()} cores, load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after.\n")
    print(table([ours, stock, bare]))
    print(f"\nprovisioning-bot / stock: {ratio:.1f}x the turns/s (goal >= {GOAL_RATIO:g}x), "
          f"{stock.cpu_ms_per_turn / ours.cpu_ms_per_turn:.1f}x less server CPU per turn; "
          f"p99 {p99:.1f} ms (goal < {GOAL_P99_MS:g} ms).")
    if args.profile:
        print("(profiled: the provisioning-bot row measures the profiler too)")
    print("goal met" if ratio >= GOAL_RATIO and p99 < GOAL_P99_MS else "goal NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
