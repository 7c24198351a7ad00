"""Wrong verification codes over the real HTTP path: does the answer's timing tell a caller
whether a MAC is registered? (issue 14, item 4)

Starts the real app (`bot.app.create_app`, TinyDB store in a temp dir) on 127.0.0.1 and
posts wrong codes to `POST /api/devices/provision` for three MACs, interleaved: one
registered and waiting on activation (with a code), one registered and provisioned
(*Waiting for sign in*), one no tenant holds. The lockout limit is raised so every answer
is a 401 and only the counting is measured. Prints, per MAC, the median and p90 latency
and how many bytes the data directory grew by.

    .venv/bin/python benchmarks/wrong_code_bench.py [--attempts 2000]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import SERVICES, create_app
from bot.settings import Settings
from provisioning.audit import Actor
from storage import Store

ADMIN = Actor(id="bench-admin", name="Bench Admin", source="chat")
TENANT = "local"
DEVICE = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}
MACS = {"waiting on activation": "00-1A-2B-3C-4D-01", "waiting for sign in": "00-1A-2B-3C-4D-02",
        "not registered": "00-1A-2B-3C-4D-03"}


def directory_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())


async def main(attempts: int) -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as data_dir:
        app = await create_app(Settings(data_dir=Path(data_dir), device_rate_limit=10**9))
        services = app[SERVICES]
        service = services.service
        for mac in list(MACS.values())[:2]:
            await service.add_device(TENANT, ADMIN, mac, "Bench")
            await service.issue_code(TENANT, ADMIN, mac)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/api/devices/provision"
        try:
            async with aiohttp.ClientSession() as session:
                code = service.get_device(TENANT, MACS["waiting for sign in"]).code
                assert code is not None
                async with session.post(url, json={"mac": MACS["waiting for sign in"],
                                                   "verification_code": code.value, **DEVICE}) as response:
                    assert response.status == 200
                services.devices.max_code_attempts = 10**9  # never lock: measure the counting alone
                times: dict[str, list[float]] = {kind: [] for kind in MACS}
                assert isinstance(services.store, Store)
                store = services.store.directory
                before = directory_bytes(store)
                for _ in range(attempts):
                    for kind, mac in MACS.items():
                        started = time.perf_counter()
                        async with session.post(url, json={"mac": mac, "verification_code": "000011112222",
                                                           **DEVICE}) as response:
                            await response.read()
                            assert response.status == 401
                        times[kind].append(time.perf_counter() - started)
                grew = directory_bytes(store) - before
        finally:
            await runner.cleanup()
    print(f"wrong-code benchmark: {attempts} attempts per MAC, interleaved; data directory grew {grew} bytes")
    print(f"{'MAC':<24}{'median ms':>10}{'p90 ms':>10}")
    for kind, samples in times.items():
        ordered = sorted(samples)
        print(f"{kind:<24}{statistics.median(ordered) * 1e3:>10.2f}{ordered[int(len(ordered) * 0.9)] * 1e3:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=2000)
    asyncio.run(main(parser.parse_args().attempts))
