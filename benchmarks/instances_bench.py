"""Device API provisions per second: TinyDB (one process) against PostgreSQL (one and two
instances on one database), at 10,000 devices.

For each setup, 10,000 devices with codes are made in one tenant through the services
(straight into the store), then `provisioning-bot serve` runs as real processes and 32
concurrent keep-alive clients provision every device through `POST /api/devices/provision`
(with two instances, requests alternate between their ports, as a round-robin load
balancer does). Prints provisions/s and client-side p50/p99 latency.

    .venv/bin/python benchmarks/instances_bench.py [--devices 10000] [--database URL]

The database defaults to TEST_DATABASE_URL (else the local server); a fresh schema is
made for each PostgreSQL run and dropped after. Everything runs on this machine: on 2
cores the load generator and the instances share the CPU, so two instances can't show
their full gain here.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from provisioning.audit import Actor  # noqa: E402
from provisioning.clock import SystemClock  # noqa: E402
from provisioning.repository import Repository  # noqa: E402
from provisioning.service import ProvisioningService  # noqa: E402
from tests.bot.test_process import free_port, wait_healthy  # noqa: E402
from tests.pg import base_url, fresh_schema  # noqa: E402

TENANT = "local"
CLIENTS = 32
T55A = {"model": "T55A", "manufacturer": "Yealink", "firmware_version": "58.15.0.124"}


async def prepare(repository: Repository, count: int) -> dict[str, str]:
    service = ProvisioningService(repository, SystemClock())
    admin = Actor("bench", "Bench", "chat")
    macs = [f"02-00-00-{n >> 16 & 0xFF:02X}-{n >> 8 & 0xFF:02X}-{n & 0xFF:02X}" for n in range(count)]
    result = await service.add_devices(TENANT, admin, [(mac, f"Room {n}") for n, mac in enumerate(macs)])
    assert len(result.added) == count
    coded = await service.issue_codes_for_all(TENANT, admin)
    return {d.mac: d.code.value for d in coded if d.code is not None}


def serve(data: Path, database_url: str | None) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "PROVISIONING_DATA": str(data), "PORT": str(port), "HOST": "127.0.0.1",
           "DEVICE_RATE_LIMIT": "100000", "LOG_LEVEL": "ERROR"}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    for name in ("MicrosoftAppId", "MicrosoftAppPassword", "ADMINS"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_healthy(port, process)
    return process, port


async def provision_all(ports: list[int], codes: dict[str, str]) -> tuple[float, list[float]]:
    pending = list(codes.items())
    latencies: list[float] = []
    failures = 0
    connector = aiohttp.TCPConnector(limit=CLIENTS * len(ports))
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker(n: int) -> None:
            nonlocal failures
            while pending:
                mac, code = pending.pop()
                port = ports[n % len(ports)]
                started = time.perf_counter()
                async with http.post(f"http://127.0.0.1:{port}/api/devices/provision",
                                     json={"mac": mac, "verification_code": code, **T55A}) as response:
                    await response.read()
                    failures += response.status != 200
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker(n) for n in range(CLIENTS)))
        elapsed = time.perf_counter() - started
    assert failures == 0, f"{failures} provisions failed"
    return elapsed, latencies


def stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


async def run(label: str, instances: int, database_url: str | None, devices: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        if database_url:
            from storage.postgres import open_postgres_store

            store = await open_postgres_store(database_url)
            codes = await prepare(store, devices)
            await store.close()
        else:
            from storage import open_store

            file_store = await open_store(data)
            codes = await prepare(file_store, devices)
            await file_store.close()
        started = [await asyncio.to_thread(serve, Path(tmp) / f"data{n}" if database_url else data, database_url)
                   for n in range(instances)]
        try:
            elapsed, latencies = await provision_all([port for _, port in started], codes)
        finally:
            stop([process for process, _ in started])
    quantiles = statistics.quantiles(latencies, n=100)
    return (f"| {label} | {devices / elapsed:,.0f} | {quantiles[49] * 1000:.1f} | {quantiles[98] * 1000:.1f} |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--database", default=base_url())
    args = parser.parse_args()
    os.environ["TEST_DATABASE_URL"] = args.database
    print(f"{args.devices:,} devices, {CLIENTS} concurrent clients per instance's share, "
          f"{os.cpu_count()} cores shared by the load and the instances.\n")
    print("| setup | provisions/s | p50 ms | p99 ms |\n|---|---:|---:|---:|")
    print(await run("TinyDB, one process", 1, None, args.devices), flush=True)
    for instances in (1, 2):
        async with fresh_schema() as url:
            label = f"PostgreSQL, {instances} instance{'s' if instances > 1 else ''}"
            print(await run(label, instances, url, args.devices), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
