"""Issue 10's goals, measured: provisions with notices on, the burst's digests, stale
connections, a slow connector.

Runs `provisioning-bot serve` as a real process (no app id) on a data directory made
here, against fake connectors served by this process (aiohttp, 127.0.0.1):

1. **provision**: 10,000 devices with codes in one tenant whose admin conversation is on
   a fake connector; 32 concurrent keep-alive clients provision all of them through
   `POST /api/devices/provision`. Prints provisions/s and client-side p50/p99, then waits
   until the outbox is empty and prints how many messages the conversation got, the
   smallest gap between two of them, and whether every device was named.
2. **kill -9**: the same burst against a fresh copy, killed after 3,000 acknowledgements
   with the connector refusing (503), restarted with the connector up: how many
   acknowledged devices were reported after the restart.
3. **idle close**: `--replies` (200) `help` turns with normal delivery (replies over
   HTTP) to a connector that closes idle connections after 1 s (aiohttp
   `keepalive_timeout=1`), with random 0.5 to 1.5 s pauses: delivered and apologies.
4. **slow connector**: 8 `help` turns to a connector answering after 12 s; meanwhile
   another conversation's `add` (expectReplies) and a device's provision: their times.
   Then SIGTERM while a notice hangs on that connector: time to exit.

    .venv/bin/python benchmarks/notices_bench.py [--devices 10000] [--replies 200] [--skip-idle]
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from provisioning.audit import Actor  # noqa: E402
from provisioning.clock import SystemClock  # noqa: E402
from provisioning.service import ProvisioningService  # noqa: E402
from storage import open_store  # noqa: E402
from tests.bot.connector import FakeConnector, serving  # noqa: E402

MESSAGE = json.loads((REPO / "tests/fixtures/activities/emulator_message.json").read_text())
TENANT = "local"
ADMIN = Actor(id="bench", name="Bench", source="chat")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(data: Path, count: int, service_url: str) -> dict[str, str]:
    """10,000 devices with codes, the admin conversation on `service_url`; MAC -> code."""
    store = await open_store(data)
    try:
        service = ProvisioningService(store, SystemClock())
        rows = [(f"02-10-00-{n >> 16 & 255:02X}-{n >> 8 & 255:02X}-{n & 255:02X}", f"Rack {n}") for n in range(count)]
        await service.add_devices(TENANT, ADMIN, rows)
        devices = await service.issue_codes_for_all(TENANT, ADMIN)
        reference = {"serviceUrl": service_url, "channelId": "emulator", "conversation": {"id": "bench|livechat"},
                     "bot": {"id": "bot"}, "user": {"id": "admin"}}
        await service.save_conversation(TENANT, ["latest"], reference)
        return {d.mac: d.code.value for d in devices if d.code is not None}
    finally:
        await store.close()


def start(data: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PROVISIONING_DATA": str(data), "PORT": str(port), "HOST": "127.0.0.1",
           "DEVICE_RATE_LIMIT": "100000", "LOG_LEVEL": "WARNING"}
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "ADMINS"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def healthy(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(300):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the service did not come up")


async def provision_all(session: aiohttp.ClientSession, port: int, codes: dict[str, str], acknowledged: list[str],
                        latencies: list[float], workers: int = 32) -> None:
    queue = list(codes.items())

    async def worker() -> None:
        while queue:
            mac, code = queue.pop()
            body = {"mac": mac, "verification_code": code, "model": "T55A", "manufacturer": "Yealink",
                    "firmware_version": "58.15.0.124"}
            started = time.perf_counter()
            try:
                async with session.post(f"http://127.0.0.1:{port}/api/devices/provision", json=body) as response:
                    await response.read()
                    if response.status == 200:
                        acknowledged.append(mac)
                        latencies.append(time.perf_counter() - started)
            except aiohttp.ClientError:
                return

    await asyncio.gather(*(worker() for _ in range(workers)))


def named(fake: FakeConnector) -> str:
    return json.dumps(fake.activities())


async def bench_provision(devices: int) -> None:
    fake = FakeConnector()
    arrivals: list[float] = []
    original = fake._record

    async def timed(request: web.Request, method: str) -> web.Response:
        response = await original(request, method)
        arrivals.append(time.monotonic())
        return response

    fake._record = timed  # type: ignore[method-assign]
    async with serving(fake) as (_, url), aiohttp.ClientSession() as session:
        workdir = Path(tempfile.mkdtemp(prefix="notices-bench-"))
        codes = await prepare(workdir / "data", devices, url)
        shutil.copytree(workdir / "data", workdir / "copy")
        port = free_port()
        process = start(workdir / "data", port)
        try:
            await healthy(session, port)
            acknowledged: list[str] = []
            latencies: list[float] = []
            began = time.perf_counter()
            await provision_all(session, port, codes, acknowledged, latencies)
            elapsed = time.perf_counter() - began
            latencies.sort()
            print(f"provision: {len(acknowledged)} devices in {elapsed:.2f} s = {len(acknowledged) / elapsed:,.0f}/s, "
                  f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
                  f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and not all(m in named(fake) for m in acknowledged[-50:]):
                await asyncio.sleep(0.5)
            await asyncio.sleep(3)
            text = named(fake)
            gaps = [b - a for a, b in itertools.pairwise(arrivals)]
            print(f"burst: {len(fake.received)} messages to the admin for {len(acknowledged)} devices; smallest gap "
                  f"{min(gaps) if gaps else float('nan'):.2f} s; every device named: "
                  f"{all(m in text for m in acknowledged)}")
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)

        # kill -9 mid-burst, connector refusing; restart with it up
        fake.received.clear()
        fake.fail_sends = 10**9
        process = start(workdir / "copy", port)
        acknowledged = []
        try:
            await healthy(session, port)
            burst = asyncio.create_task(provision_all(session, port, codes, acknowledged, []))
            while len(acknowledged) < min(3000, devices // 2):
                await asyncio.sleep(0.001)
            process.kill()
            await burst
        finally:
            process.communicate(timeout=30)
        fake.fail_sends = 0
        process = start(workdir / "copy", port)
        try:
            await healthy(session, port)
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and not all(m in named(fake) for m in acknowledged):
                await asyncio.sleep(0.5)
            reported = sum(1 for m in acknowledged if m in named(fake))
            print(f"kill -9: {len(acknowledged)} provisions acknowledged before the kill, {reported} reported after "
                  f"the restart in {len(fake.received)} messages")
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


async def say(session: aiohttp.ClientSession, port: int, service_url: str, text: str, *, expect: bool = False,
              conversation: str | None = None) -> tuple[int, str]:
    body = dict(MESSAGE, text=text, serviceUrl=service_url)
    if conversation:
        body["conversation"] = {"id": conversation}
    if expect:
        body["deliveryMode"] = "expectReplies"
    async with session.post(f"http://127.0.0.1:{port}/api/messages", json=body) as response:
        return response.status, await response.text()


async def bench_idle_close(replies: int) -> None:
    fake = FakeConnector()
    server_port = free_port()
    runner = web.AppRunner(fake.app(), keepalive_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", server_port).start()
    workdir = Path(tempfile.mkdtemp(prefix="notices-bench-"))
    port = free_port()
    process = start(workdir / "data", port)
    try:
        async with aiohttp.ClientSession() as session:
            await healthy(session, port)
            for _ in range(replies):
                await say(session, port, f"http://127.0.0.1:{server_port}", "help")
                await asyncio.sleep(random.uniform(0.5, 1.5))
        delivered = [a for a in fake.activities() if a.get("attachments")]
        apologies = [a for a in fake.activities() if "Sorry" in (a.get("text") or "")]
        print(f"idle close: {replies} replies sent with 0.5-1.5 s pauses to a connector closing idle connections "
              f"after 1 s: {len(delivered)} delivered, {len(apologies)} apologies")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        await runner.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


async def bench_slow_connector() -> None:
    slow, fast = FakeConnector(delay=12.0), FakeConnector()
    async with serving(slow) as (_, slow_url), serving(fast) as (_, fast_url), aiohttp.ClientSession() as session:
        workdir = Path(tempfile.mkdtemp(prefix="notices-bench-"))
        codes = await prepare(workdir / "data", 10, slow_url)
        port = free_port()
        process = start(workdir / "data", port)
        try:
            await healthy(session, port)
            hung = [asyncio.create_task(say(session, port, slow_url, "help")) for _ in range(8)]
            await asyncio.sleep(1.0)
            began = time.perf_counter()
            await say(session, port, fast_url, "add 02-20-00-00-00-01 Lobby", expect=True, conversation="other")
            add_ms = (time.perf_counter() - began) * 1000
            mac, code = next(iter(codes.items()))
            body = {"mac": mac, "verification_code": code, "model": "T55A", "firmware_version": "58.15.0.124"}
            began = time.perf_counter()
            async with session.post(f"http://127.0.0.1:{port}/api/devices/provision", json=body) as response:
                assert response.status == 200
            provision_ms = (time.perf_counter() - began) * 1000
            print(f"slow connector: with 8 turns waiting 12 s on theirs, another conversation's add took "
                  f"{add_ms:.1f} ms and a provision {provision_ms:.1f} ms")
            await asyncio.sleep(1.0)  # the provision's notice now hangs on the slow connector
            began = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.communicate, timeout=30)
            print(f"slow connector: SIGTERM with a notice hanging exited in {time.perf_counter() - began:.1f} s "
                  f"(exit code {process.returncode})")
            for task in hung:
                task.cancel()
            await asyncio.gather(*hung, return_exceptions=True)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            shutil.rmtree(workdir, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--skip-idle", action="store_true")
    args = parser.parse_args()
    await bench_provision(args.devices)
    await bench_slow_connector()
    if not args.skip_idle:
        await bench_idle_close(args.replies)


if __name__ == "__main__":
    asyncio.run(main())
