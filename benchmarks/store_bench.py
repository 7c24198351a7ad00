"""Benchmark of the durable store at 1,000, 10,000 and 50,000 devices; prints one table.

    .venv/bin/python benchmarks/store_bench.py [--sizes 1000,10000,50000] [--seconds 5] [--postgres]

`--postgres` measures the PostgreSQL store instead (`TEST_DATABASE_URL`, else the local
server; a fresh schema per size, dropped after): the same figures but the file's (no
checkpoint is forced; "batches" counts its transactions).

Per inventory size, in a fresh data directory on the same disk as the system temp dir:
- bulk add: one commit of N new devices, made as the service makes it: `prepare_save`
  (device_to_doc and the checks, in a worker thread), then `commit` (apply, durable write);
- bulk code issue: the same for N devices that each got a new verification code;
- bulk stall: the worst lateness of a 2 ms ticker on the event loop during each of those
  two bulk commits (issue 11: < 100 ms at 50,000; the synchronous apply is the most of it);
- open: the store is closed and opened again, as at a restart (parse, replay, index);
  everything below runs on the reopened store;
- lookup: mean time of `get(mac)`, cold (first look-up of a device after open: decodes
  its document) and warm (over random MACs once decoded);
- single update p50/p99: one durable single-device commit (with its audit event) at a time;
- sustained: durable updates per second with 32 concurrent writers, each looping
  get -> change location -> commit (with an audit event), for --seconds, with one
  checkpoint (whole-file rewrite) forced halfway so its cost is always included;
- stall p50/p99/max: lateness of a 2 ms ticker task on the event loop during the
  sustained run (how long any other request would have waited to be served).
Goals (issue 3, 2-core machine): lookup < 0.1 ms; at 10,000: >= 2,000 updates/s and
stall p99 < 15 ms; at 50,000: >= 500 updates/s and stall p99 < 30 ms.

Each open of the store runs as in a fresh service process: with CPython's default
collector settings, then `bot.process.tune_garbage_collector()` as the service calls it
once its store is loaded; so `open` is a start-up load and everything after it runs
tuned, as in production. --no-gc-tuning never tunes, to see what the tuning buys.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.process import collector_paused, tune_garbage_collector, tune_thread_switching
from provisioning.audit import Actor, AuditEvent
from provisioning.devices import Device, VerificationCode, new_device, with_code
from storage import DeviceRepository, TenantFile, open_store
from storage.postgres import PostgresStore, open_postgres_store
from storage.store import Store
from storage.tenants import TenantStore
from tests.pg import fresh_schema

TENANT = "bench-tenant"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ADMIN = Actor(id="aad-bench", name="Bench Admin", source="chat")
WRITERS = 32
DEFAULT_GC_THRESHOLDS = gc.get_threshold()
TICK = 0.002


@dataclass
class Row:
    size: int
    bulk_add_s: float
    bulk_code_s: float
    bulk_add_stall_ms: float
    bulk_code_stall_ms: float
    open_s: float
    cold_lookup_us: float
    lookup_us: float
    single_p50_ms: float
    single_p99_ms: float
    updates_per_s: float
    stall_p50_ms: float
    stall_p99_ms: float
    stall_max_ms: float
    batches: int
    checkpoints: int | None  # None: PostgreSQL (no file)
    file_mb: float | None


def mac(n: int) -> str:
    return "00-1B-" + "-".join(f"{(n >> shift) & 0xFF:02X}" for shift in (24, 16, 8, 0))


def stored(repo: DeviceRepository, mac_id: str) -> Device:
    found = repo.get(mac_id)
    assert found is not None, mac_id
    return found


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def moved(device: Device, location: str) -> tuple[Device, AuditEvent]:
    changed = replace(device, location=location, updated_at=device.updated_at + timedelta(seconds=1))
    note = AuditEvent(NOW, TENANT, ADMIN, "device.moved", device.mac, {"location": location})
    return changed, note


async def bulk_commit(repo: DeviceRepository, devices: list[Device], tuned: bool) -> tuple[float, float]:
    """Seconds for one bulk commit as the service makes it (`prepare_save` in a worker
    thread, then `commit`; with the service's tuning, inside `collector_paused`), and the
    worst lateness of a TICK ticker on the loop meanwhile (s)."""
    lateness: list[float] = []
    running = True

    async def ticker() -> None:
        while running:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            lateness.append(time.perf_counter() - started - TICK)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    if tuned:
        with collector_paused():
            await repo.commit(save=await repo.prepare_save(devices))
    else:
        await repo.commit(save=await repo.prepare_save(devices))
    took = time.perf_counter() - started
    running = False
    await task
    return took, max(lateness)


async def sustained(repo: DeviceRepository, file: TenantFile | None, size: int, seconds: float
                    ) -> tuple[float, list[float]]:
    """Updates/s with WRITERS concurrent writers, and the ticker's lateness samples.

    Halfway through, a checkpoint (whole-file rewrite) is requested, so every run pays
    for at least one, even where the journal would not reach its limit in `seconds`.
    """
    stalls: list[float] = []
    done = 0
    stop = time.perf_counter() + seconds
    halfway = time.perf_counter() + seconds / 2

    async def ticker() -> None:
        requested = False
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            stalls.append(time.perf_counter() - started - TICK)
            if not requested and started > halfway and file is not None:
                file.request_checkpoint()
                requested = True

    async def writer(w: int) -> None:
        nonlocal done
        rng = random.Random(w)
        while time.perf_counter() < stop:
            device, note = moved(stored(repo, mac(rng.randrange(size))), f"desk {w}-{done}")
            await repo.commit(save=[device], audit=[note])
            done += 1

    started = time.perf_counter()
    await asyncio.gather(ticker(), *(writer(w) for w in range(WRITERS)))
    return done / (time.perf_counter() - started), stalls


async def measure(size: int, seconds: float, root: Path, tuned: bool, database: str | None) -> Row:
    directory = root / f"data-{size}"

    async def opened() -> TenantStore:
        return await (open_postgres_store(database) if database else open_store(directory))

    as_a_new_process()
    store = await opened()
    if tuned:
        tune_garbage_collector()  # a service starting on an empty data directory
        tune_thread_switching()
    try:
        repo = store.tenant(TENANT)
        fresh = [
            new_device(TENANT, mac(n), f"Building {n % 7}, floor {n % 9}, room {n % 300}", NOW, ADMIN.name)
            for n in range(size)
        ]
        bulk_add, bulk_add_stall = await bulk_commit(repo, fresh, tuned)
        code = VerificationCode("123456789012", NOW, NOW + timedelta(hours=24), ADMIN.id)
        coded = [with_code(d, replace(code, value=f"{n:012d}"), NOW, ADMIN.name) for n, d in enumerate(repo.devices())]
        bulk_code, bulk_code_stall = await bulk_commit(repo, coded, tuned)
    finally:
        await store.close()
    del fresh, coded, repo, store
    as_a_new_process()

    started = time.perf_counter()
    store = await opened()
    open_s = time.perf_counter() - started
    if tuned:
        tune_garbage_collector()  # the same service restarted with its data
    try:
        repo = store.tenant(TENANT)
        cold = random.sample(range(size), min(size, 2000))
        started = time.perf_counter()
        for n in cold:
            repo.get(mac(n))
        cold_lookup_us = (time.perf_counter() - started) / len(cold) * 1e6
        repo.devices()  # decodes the rest, as the first device list would

        probes = [mac(random.randrange(size)) for _ in range(100_000)]
        started = time.perf_counter()
        for probe in probes:
            repo.get(probe)
        lookup_us = (time.perf_counter() - started) / len(probes) * 1e6

        singles: list[float] = []
        for n in range(300):
            device, note = moved(stored(repo, mac(n % size)), f"single {n}")
            started = time.perf_counter()
            await repo.commit(save=[device], audit=[note])
            singles.append(time.perf_counter() - started)

        file = store.tenant_file(TENANT) if isinstance(store, Store) else None
        batches = transactions(store) if file is None else file.flush_count
        checkpoints = None if file is None else file.checkpoint_count
        rate, stalls = await sustained(repo, file, size, seconds)
        return Row(
            size=size,
            bulk_add_s=bulk_add,
            bulk_code_s=bulk_code,
            bulk_add_stall_ms=bulk_add_stall * 1e3,
            bulk_code_stall_ms=bulk_code_stall * 1e3,
            open_s=open_s,
            cold_lookup_us=cold_lookup_us,
            lookup_us=lookup_us,
            single_p50_ms=percentile(singles, 0.5) * 1e3,
            single_p99_ms=percentile(singles, 0.99) * 1e3,
            updates_per_s=rate,
            stall_p50_ms=percentile(stalls, 0.5) * 1e3,
            stall_p99_ms=percentile(stalls, 0.99) * 1e3,
            stall_max_ms=max(stalls) * 1e3,
            batches=(transactions(store) if file is None else file.flush_count) - batches,
            checkpoints=None if file is None or checkpoints is None else file.checkpoint_count - checkpoints,
            file_mb=None if file is None else file.path.stat().st_size / 1e6,
        )
    finally:
        await store.close()
        as_a_new_process()
        shutil.rmtree(directory, ignore_errors=True)


def transactions(store: TenantStore) -> int:
    assert isinstance(store, PostgresStore)
    return store.transactions(TENANT)


def as_a_new_process() -> None:
    """Collector state as a service process starts with: nothing frozen, default thresholds."""
    gc.unfreeze()
    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
    gc.collect()


def print_table(rows: list[Row], seconds: float, tuned: bool, postgres: bool) -> None:
    kind = "PostgreSQL" if postgres else "TinyDB files"
    print(f"store benchmark ({kind}): {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{WRITERS} writers for {seconds:g} s, stall = lateness of a {TICK * 1e3:g} ms ticker, "
          f"GC: {'tune_garbage_collector() after open' if tuned else 'CPython defaults'}")
    print()
    print("| devices | bulk add | bulk code issue | bulk stall add / code | open | lookup warm / cold | "
          "single update p50 / p99 | sustained (32 writers) | stall p50 / p99 / max | batches / checkpoints | file |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.size:,} | {r.bulk_add_s:.2f} s | {r.bulk_code_s:.2f} s | "
              f"{r.bulk_add_stall_ms:.0f} / {r.bulk_code_stall_ms:.0f} ms | {r.open_s:.2f} s | "
              f"{r.lookup_us:.2f} / {r.cold_lookup_us:.0f} µs | "
              f"{r.single_p50_ms:.2f} / {r.single_p99_ms:.2f} ms | {r.updates_per_s:,.0f} updates/s | "
              f"{r.stall_p50_ms:.1f} / {r.stall_p99_ms:.1f} / {r.stall_max_ms:.0f} ms | "
              f"{r.batches:,} / {'-' if r.checkpoints is None else r.checkpoints} | "
              f"{'-' if r.file_mb is None else f'{r.file_mb:.1f} MB'} |")
    print()
    goals: dict[int, tuple[int, float]] = {10_000: (2_000, 15.0), 50_000: (500, 30.0)}  # updates/s, stall p99 ms
    for r in rows:
        checks = [f"lookup {'ok' if max(r.lookup_us, r.cold_lookup_us) < 100 else 'MISSED'}"]
        if r.size == 50_000:
            worst = max(r.bulk_add_stall_ms, r.bulk_code_stall_ms)
            checks.append(f"bulk stall < 100 ms {'ok' if worst < 100 else 'MISSED'}")
        if r.size in goals:
            rate_goal, stall_goal = goals[r.size]
            checks.append(f"{rate_goal:,}/s {'ok' if r.updates_per_s >= rate_goal else 'MISSED'}")
            checks.append(f"stall p99 < {stall_goal:g} ms {'ok' if r.stall_p99_ms < stall_goal else 'MISSED'}")
        print(f"goals at {r.size:,}: " + ", ".join(checks))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-gc-tuning", action="store_true", help="keep CPython's default GC settings")
    parser.add_argument("--postgres", action="store_true", help="the PostgreSQL store (TEST_DATABASE_URL)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="store-bench-"))
    rows: list[Row] = []
    try:
        for size in args.sizes.split(","):
            if args.postgres:
                async with fresh_schema() as url:
                    rows.append(await measure(int(size), args.seconds, root, not args.no_gc_tuning, url))
            else:
                rows.append(await measure(int(size), args.seconds, root, not args.no_gc_tuning, None))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print_table(rows, args.seconds, not args.no_gc_tuning, args.postgres)


if __name__ == "__main__":
    asyncio.run(main())
