"""Group commit, failed flushes, the journal after a crash, unreadable files, the lock."""
from __future__ import annotations

import asyncio
import errno
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from storage import (
    Store,
    StoreCorrupt,
    StoreLocked,
    StoreSchemaUnsupported,
    StoreWriteFailed,
    atomic,
    journal,
    open_store,
)
from tests.conftest import REPO_ROOT
from tests.storage.conftest import device, event, mac, moved, stored

TENANT = "tenant-a"


def crash_copy(store: Store, dest: Path) -> Path:
    """The data directory as a kill -9 would leave it now (no close, no final checkpoint)."""
    shutil.copytree(store.directory, dest)
    return dest


def only(directory: Path, pattern: str) -> Path:
    (path,) = directory.glob(pattern)
    return path


def no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def test_concurrent_commits_are_coalesced_and_all_durable(store: Store) -> None:
    repo = store.tenant(TENANT)
    await asyncio.gather(*(repo.commit(save=[device(TENANT, n)]) for n in range(200)))
    file = store.tenant_file(TENANT)
    assert file.flush_count <= 3  # 200 commits, staged in one loop pass: one or two flushes

    async def writer(w: int) -> None:
        for step in range(5):
            await repo.commit(
                save=[moved(stored(repo, mac(w)), f"step {step}")], audit=[event(TENANT, "moved", mac(w))]
            )

    before = file.flush_count
    await asyncio.gather(*(writer(w) for w in range(200)))
    assert file.flush_count - before <= 50  # 1,000 commits in a few dozen batches

    copy = await open_store(crash_copy(store, store.directory.parent / "copy"))
    try:
        assert {d.location for d in copy.tenant(TENANT).devices()} == {"step 4"}
        assert len(await copy.read_audit(TENANT, limit=5000)) == 1000
    finally:
        await copy.close()


async def test_a_failed_flush_rolls_back_and_tells_the_waiter(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = store.tenant(TENANT)
    original = device(TENANT, 1, "original")
    await repo.commit(save=[original])
    monkeypatch.setattr(journal, "append", no_space)

    with pytest.raises(StoreWriteFailed) as failed:
        await repo.commit(
            save=[moved(original, "lost"), device(TENANT, 2)],
            audit=[event(TENANT, "moved", mac(1))],
            records={("k", "1"): {"v": 1}},
        )
    assert "No space left" in failed.value.message and "disk space" in failed.value.message
    assert failed.value.reason == "the disk is full"
    assert repo.get(mac(1)) == original and repo.get(mac(2)) is None
    assert repo.get_record("k", "1") is None
    assert store.tenants_with_mac(mac(2)) == []
    assert await store.read_audit(TENANT) == []

    monkeypatch.undo()
    await repo.commit(save=[device(TENANT, 3)])
    copy = await open_store(crash_copy(store, store.directory.parent / "copy"))
    try:
        assert sorted(d.mac for d in copy.tenant(TENANT).devices()) == [mac(1), mac(3)]
        assert copy.tenant(TENANT).get(mac(1)) == original
    finally:
        await copy.close()


async def test_commits_staged_behind_a_failing_flush_fail_too(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1, "v0")])
    entered, release = threading.Event(), threading.Event()

    def slow_failure(*args: object) -> None:
        entered.set()
        release.wait(5)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal, "append", slow_failure)
    first = asyncio.ensure_future(repo.commit(save=[moved(stored(repo, mac(1)), "v1")]))
    while not entered.is_set():
        await asyncio.sleep(0.001)
    # Rests on v1, which is not durable yet: if v1 fails, so must this.
    second = asyncio.ensure_future(repo.commit(save=[moved(stored(repo, mac(1)), "v2"), device(TENANT, 2)]))
    await asyncio.sleep(0)
    assert stored(repo, mac(1)).location == "v2"
    release.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert all(isinstance(r, StoreWriteFailed) for r in results)
    assert stored(repo, mac(1)).location == "v0" and repo.get(mac(2)) is None


async def test_a_failed_checkpoint_falls_back_to_the_journal(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, n) for n in range(2000)])
    file = store.tenant_file(TENANT)
    checkpoints = file.checkpoint_count
    await repo.commit(save=[moved(d, "first bulk") for d in repo.devices()])
    assert file.checkpoint_count == checkpoints + 1  # a bulk change rewrites the file
    monkeypatch.setattr(atomic, "atomic_write", no_space)
    # The disk refuses the big rewrite; the small journal append still gets through.
    await repo.commit(save=[moved(d, "bulk") for d in repo.devices()])
    assert file.checkpoint_count == checkpoints + 1
    copy = await open_store(crash_copy(store, store.directory.parent / "copy"))
    try:
        assert {d.location for d in copy.tenant(TENANT).devices()} == {"bulk"}
    finally:
        await copy.close()


async def test_the_journal_is_replayed_after_a_crash_and_folded_by_checkpoints(data_dir: Path) -> None:
    store = await open_store(data_dir, journal_min_bytes=64 * 1024)
    try:
        repo = store.tenant(TENANT)
        await repo.commit(save=[device(TENANT, n) for n in range(100)])
        for step in range(300):
            await repo.commit(
                save=[moved(stored(repo, mac(step % 100)), f"step {step}")], remove=[mac(step)] if step >= 200 else []
            )
        file = store.tenant_file(TENANT)
        assert file.checkpoint_count >= 2  # the journal kept being folded into the file
        assert only(data_dir, "*.wal").stat().st_size < 200 * 1024
        copy = await open_store(crash_copy(store, data_dir.parent / "copy"))
        try:
            got = {d.mac: d.location for d in copy.tenant(TENANT).devices()}
            assert got == {d.mac: d.location for d in repo.devices()}
            assert len(got) == 100 and got[mac(0)] == "step 200" and got[mac(99)] == "step 299"
        finally:
            await copy.close()
    finally:
        await store.close()


async def test_a_torn_journal_tail_is_an_unacknowledged_write_and_is_cut(store: Store) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1)])
    await repo.commit(save=[device(TENANT, 2)])
    copy_dir = crash_copy(store, store.directory.parent / "copy")
    wal = only(copy_dir, "*.wal")
    good = wal.stat().st_size
    with open(wal, "ab") as handle:
        handle.write(journal.encode_record(99, 0, [["devices", mac(3), {"mac": mac(3)}]])[:-20])

    copy = await open_store(copy_dir)
    try:
        assert sorted(d.mac for d in copy.tenant(TENANT).devices()) == [mac(1), mac(2)]
        assert wal.stat().st_size == good
        await copy.tenant(TENANT).commit(save=[device(TENANT, 4)])
    finally:
        await copy.close()


async def test_a_damaged_journal_line_before_good_ones_stops_the_start(store: Store) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1)])
    await repo.commit(save=[device(TENANT, 2)])
    await repo.commit(save=[device(TENANT, 3)])
    copy_dir = crash_copy(store, store.directory.parent / "copy")
    wal = only(copy_dir, "*.wal")
    damaged = bytearray(wal.read_bytes())
    damaged[30] ^= 0x01  # inside the first line
    wal.write_bytes(bytes(damaged))

    with pytest.raises(StoreCorrupt) as refused:
        await open_store(copy_dir)
    assert refused.value.path == str(wal)
    assert "damaged" in refused.value.message and ".broken" in refused.value.message
    assert wal.read_bytes() == bytes(damaged)


async def test_journal_lines_already_in_the_checkpoint_are_not_replayed(store: Store) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1, "old")])
    await repo.commit(save=[moved(stored(repo, mac(1)), "journaled")])
    stale = only(store.directory, "*.wal").read_bytes()
    await repo.commit(save=[moved(stored(repo, mac(1)), "newest")])
    await store.close()  # checkpoint holds "newest"; the journal is emptied
    # As if the crash came between the checkpoint's rename and emptying the journal.
    only(store.directory, "*.wal").write_bytes(stale)
    reopened = await open_store(store.directory)
    try:
        assert stored(reopened.tenant(TENANT), mac(1)).location == "newest"
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    "content, reason",
    [
        (
            b'{"_meta": {"1": {"schema_version": 1, "tenant_id": "tenant-a"}}, "devices": {"1": {"mac": "00-1B-00',
            "not valid JSON",
        ),
        (b"", "empty"),
        (b"{}", "schema_version"),
        (
            b'{"_meta": {"1": {"schema_version": 1, "tenant_id": "tenant-a"}}, "devices": {"1": {"no mac": 1}}}',
            "malformed",
        ),
    ],
)
async def test_an_unreadable_store_file_stops_the_start_and_is_left_untouched(
    store: Store, content: bytes, reason: str
) -> None:
    await store.tenant(TENANT).commit(save=[device(TENANT, 1)])
    await store.close()
    path = only(store.directory, "tenant-*.json")
    path.write_bytes(content)
    before = path.stat()

    with pytest.raises(StoreCorrupt) as refused:
        await open_store(store.directory)
    message = refused.value.message
    assert refused.value.path == str(path) and str(path) in message and reason in message
    assert f"mv '{path}' '{path}.broken'" in message and "backup" in message
    assert path.read_bytes() == content and path.stat().st_mtime_ns == before.st_mtime_ns
    # The lock was released: once the file is moved aside, the service starts.
    path.rename(path.with_name(path.name + ".broken"))
    reopened = await open_store(store.directory)
    await reopened.close()


async def test_a_device_document_that_describes_no_device_stops_the_start_and_is_left_untouched(
    store: Store,
) -> None:
    await store.tenant(TENANT).commit(save=[device(TENANT, 1), device(TENANT, 2)])
    await store.close()
    path = only(store.directory, "tenant-*.json")
    data = orjson.loads(path.read_bytes())
    doc_id, doc = next((i, d) for i, d in data["devices"].items() if d["mac"] == mac(2))
    doc["state"] = "bogus_state"
    content = orjson.dumps(data)
    path.write_bytes(content)
    before = path.stat()

    with pytest.raises(StoreCorrupt) as refused:
        await open_store(store.directory)
    message = refused.value.message
    assert refused.value.path == str(path) and str(path) in message
    assert f"devices document {doc_id} ({mac(2)})" in message and "state 'bogus_state' is not one of" in message
    assert f"mv '{path}' '{path}.broken'" in message
    assert path.read_bytes() == content and path.stat().st_mtime_ns == before.st_mtime_ns


async def test_a_device_document_from_the_journal_is_checked_too(store: Store) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1)])
    await repo.commit(save=[moved(stored(repo, mac(1)), "journalled")])
    copy_dir = crash_copy(store, store.directory.parent / "copy")
    wal = only(copy_dir, "tenant-*.wal")
    [record] = journal.scan(wal).records
    [[table, key, doc]] = record.changes
    doc["location"] = 42
    wal.write_bytes(journal.encode_record(record.batch, record.audit_size, [[table, key, doc]]))
    content = wal.read_bytes()

    with pytest.raises(StoreCorrupt) as refused:
        await open_store(copy_dir)
    assert f"({mac(1)}) is not valid: location is a JSON number, not text" in refused.value.message
    assert wal.read_bytes() == content


async def test_a_file_from_a_newer_version_is_refused(store: Store) -> None:
    await store.tenant(TENANT).commit(save=[device(TENANT, 1)])
    await store.close()
    path = only(store.directory, "tenant-*.json")
    data = orjson.loads(path.read_bytes())
    data["_meta"]["1"]["schema_version"] = 99
    path.write_bytes(orjson.dumps(data))
    with pytest.raises(StoreSchemaUnsupported, match="newer provisioning-bot"):
        await open_store(store.directory)


async def test_a_journal_without_its_store_file_is_refused(store: Store) -> None:
    repo = store.tenant(TENANT)
    await repo.commit(save=[device(TENANT, 1)])
    await repo.commit(save=[device(TENANT, 2)])
    copy_dir = crash_copy(store, store.directory.parent / "copy")
    only(copy_dir, "tenant-*.json").unlink()
    with pytest.raises(StoreCorrupt, match="no store file"):
        await open_store(copy_dir)


LOCK_PROBE = """
import asyncio, sys
from storage import StoreLocked, open_store
try:
    asyncio.run(open_store(sys.argv[1]))
except StoreLocked as exc:
    print(exc.message)
    sys.exit(3)
"""


async def test_a_second_process_is_refused_the_data_directory(store: Store) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", LOCK_PROBE, str(store.directory)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
    )
    assert probe.returncode == 3, probe.stderr
    assert str(store.directory) in probe.stdout and "PROVISIONING_DATA" in probe.stdout
    assert "another provisioning-bot process" in probe.stdout.lower()
    with pytest.raises(StoreLocked):
        await open_store(store.directory)  # a second opener in this process too
    await store.close()
    again = subprocess.run(
        [sys.executable, "-c", LOCK_PROBE, str(store.directory)], cwd=REPO_ROOT, capture_output=True, timeout=30
    )
    assert again.returncode == 0, again.stderr
