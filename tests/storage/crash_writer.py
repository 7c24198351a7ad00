"""Crash-test child: makes acknowledged commits until it is killed, printing each ack.

Run as `python -m tests.storage.crash_writer DATA_DIR RUN`. A line is printed (and
flushed) only after `commit` returned, so every printed line is a promise the store
must keep after a SIGKILL at any moment. Lines:
- `ready`: the store is open and seeded.
- `one W RUN N NEW_MAC`: writer W moved its own seed device to `seq RUN N` (and, when
  NEW_MAC is not `-`, added that device), with one audit event, in one commit.
- `bulk RUN N`: the bulk writer moved all `BULK` bulk devices to `bulk RUN N` in one commit
  (big enough that the store writes it as a checkpoint: a whole-file rewrite).
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import UTC, datetime

from provisioning.audit import Actor, AuditEvent
from provisioning.devices import new_device
from storage import DeviceRepository, open_store

TENANT = "crash-tenant"
SEED = 5000  # devices 0..SEED-1: the first BULK for the bulk writer, then one per single writer
BULK = 1500
WRITERS = 7
JOURNAL_MIN_BYTES = 128 * 1024  # checkpoints often, so kills land in them too
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACTOR = Actor(id="crash", name="Crash Test", source="chat")


def mac(n: int) -> str:
    return "02-00-" + "-".join(f"{(n >> shift) & 0xFF:02X}" for shift in (24, 16, 8, 0))


def seq(run: int, n: int) -> str:
    return f"{run:04d} {n:07d}"


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def one_writer(repo: DeviceRepository, w: int, run: int) -> None:
    n = 0
    while True:
        n += 1
        mine = repo.get(mac(BULK + w))
        assert mine is not None
        save = [replace(mine, location=f"seq {seq(run, n)}")]
        added = "-"
        if n % 5 == 0:
            added = mac(10_000_000 + run * 100_000 + w * 10_000 + n)
            save.append(new_device(TENANT, added, f"added {seq(run, n)}", NOW, ACTOR.name))
        note = AuditEvent(NOW, TENANT, ACTOR, "crash.moved", mine.mac, {"w": w, "run": run, "n": n})
        await repo.commit(save=save, audit=[note])
        emit(f"one {w} {run} {n} {added}")


async def bulk_writer(repo: DeviceRepository, run: int) -> None:
    n = 0
    while True:
        n += 1
        devices = [repo.get(mac(i)) for i in range(BULK)]
        await repo.commit(save=[replace(d, location=f"bulk {seq(run, n)}") for d in devices if d is not None])
        emit(f"bulk {run} {n}")
        await asyncio.sleep(0.01)  # leave room for journal-only batches between checkpoints


async def main(directory: str, run: int) -> None:
    store = await open_store(directory, journal_min_bytes=JOURNAL_MIN_BYTES)
    repo = store.tenant(TENANT)
    if repo.get(mac(SEED - 1)) is None:
        await repo.commit(save=[new_device(TENANT, mac(i), "seed", NOW, ACTOR.name) for i in range(SEED)])
    emit("ready")
    await asyncio.gather(bulk_writer(repo, run), *(one_writer(repo, w, run) for w in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
