"""Crash test: SIGKILL a writer process at random moments; every acknowledged write survives.

The child (`crash_writer.py`) commits in a loop on a few thousand devices, with small
single-device commits from seven writers and 1,500-device bulk commits from an eighth,
and with a small journal limit so checkpoints (whole-file rewrites) happen often. It
prints each commit only after `commit` returned. Each round the parent kills it at a
random moment (in 4 rounds of 10, the moment a checkpoint's temporary file appears, to
hit the whole-file write window for sure; in some, while it opens), then opens a copy of
the data directory (the original keeps whatever the kill left, torn tails and temporary
files included, for the next child to recover from) and checks that it loads and holds
every acknowledged write, bulk commits whole.
"""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from storage import journal, open_store
from tests.conftest import REPO_ROOT
from tests.storage import crash_writer as child
from tests.storage.conftest import stored

KILLS = 30


def run_until_killed(data_dir: Path, run: int, rng: random.Random) -> list[str]:
    """Start a child, SIGKILL it at a random moment, return the lines it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_writer", str(data_dir), str(run)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:  # drain the pipe so the child never blocks on a full one
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.decode().rstrip("\n"))
            if lines[-1] == "ready":
                ready.set()

    reader = threading.Thread(target=read)
    reader.start()
    moment = rng.random()
    if moment < 0.15:
        time.sleep(rng.uniform(0.0, 0.4))  # while it opens, replays the journal or seeds
    else:
        assert ready.wait(30), "the child did not start"
        time.sleep(rng.uniform(0.02, 0.35))
        if moment < 0.55:
            wait_for_checkpoint_write(data_dir, deadline=time.monotonic() + 1.0)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    reader.join()
    assert proc.returncode == -signal.SIGKILL, err.decode()
    return lines


def wait_for_checkpoint_write(data_dir: Path, deadline: float) -> None:
    """Return as soon as a checkpoint's temporary file exists: the whole-file write window."""
    while time.monotonic() < deadline:
        if any(name.endswith(".tmp") for name in os.listdir(data_dir)):
            return
        time.sleep(0.0002)


async def check_acknowledged(copy_dir: Path, run: int, lines: list[str]) -> None:
    last_one: dict[int, int] = {}
    added: list[str] = []
    moves: set[tuple[int, int]] = set()
    last_bulk = 0
    for line in lines:
        kind, *fields = line.split()
        if kind == "one":
            w, _, n, new_mac = int(fields[0]), int(fields[1]), int(fields[2]), fields[3]
            last_one[w] = max(last_one.get(w, 0), n)
            moves.add((w, n))
            if new_mac != "-":
                added.append(new_mac)
        elif kind == "bulk":
            last_bulk = max(last_bulk, int(fields[1]))

    store = await open_store(copy_dir)  # raises if anything cannot be read
    try:
        assert not [p for p in copy_dir.iterdir() if p.name.endswith(".tmp")]
        repo = store.tenant(child.TENANT)
        for w, n in last_one.items():
            # Later, unacknowledged commits may have landed too, never older ones.
            assert stored(repo, child.mac(child.BULK + w)).location >= f"seq {child.seq(run, n)}"
        for new_mac in added:
            assert repo.get(new_mac) is not None, new_mac
        seeded = [repo.get(child.mac(i)) is not None for i in range(child.SEED)]
        assert all(seeded) or not any(seeded), "the seeding commit was applied in part"
        if all(seeded):
            bulk_locations = {stored(repo, child.mac(i)).location for i in range(child.BULK)}
            assert len(bulk_locations) == 1, "a bulk commit was applied in part"
            assert bulk_locations.pop() >= f"bulk {child.seq(run, last_bulk)}" if last_bulk else True
        events = await store.read_audit(child.TENANT, limit=10**9)
        audited = {(e["detail"]["w"], e["detail"]["n"]) for e in events if e["detail"].get("run") == run}
        assert moves <= audited
    finally:
        await store.close()


@pytest.mark.slow
def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    rng = random.Random(os.environ.get("CRASH_SEED", "provisioning"))
    data_dir = tmp_path / "data"
    stats: dict[str, int] = defaultdict(int)
    for run in range(1, KILLS + 1):
        lines = run_until_killed(data_dir, run, rng)
        stats["acks"] += sum(1 for line in lines if line != "ready")
        stats["runs with acks"] += any(line != "ready" for line in lines)
        names = os.listdir(data_dir) if data_dir.exists() else []
        stats["kills inside a checkpoint (temp file left)"] += any(n.endswith(".tmp") for n in names)
        for name in names:
            if name.endswith(".wal"):
                scan = journal.scan(data_dir / name)
                stats["kills inside a journal append (torn line left)"] += scan.size > scan.valid_end
        copy_dir = tmp_path / f"copy-{run}"
        if data_dir.exists():
            shutil.copytree(data_dir, copy_dir)
            asyncio.run(check_acknowledged(copy_dir, run, lines))
            shutil.rmtree(copy_dir)
    print(dict(stats))
    assert stats["runs with acks"] >= KILLS // 2
