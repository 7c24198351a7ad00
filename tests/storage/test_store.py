"""The store through the Repository port: reopen, isolation, records, audit, files on disk."""
from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import orjson
import pytest
from tinydb import TinyDB

from provisioning.documents import device_from_doc
from storage import InvalidCommit, InvalidTenantId, Store, StoreClosed, StoreError, open_store
from tests.storage.conftest import coded, device, event, mac, moved, stored


async def reopened(store: Store) -> Store:
    await store.close()
    return await open_store(store.directory)


async def test_reopen_finds_devices_records_and_mac_index(store: Store) -> None:
    repo = store.tenant("tenant-a")
    devices = [coded(device("tenant-a", n)) for n in range(50)]
    await repo.commit(save=devices, records={("conversation", "admin-1"): {"id": "conv-1", "n": [1, 2]}})
    await repo.commit(save=[moved(devices[3], "Lobby")], remove=[mac(4)])

    store = await reopened(store)
    try:
        repo = store.tenant("tenant-a")
        assert repo.get(mac(3)) == moved(devices[3], "Lobby")
        assert repo.get(mac(4)) is None
        assert repo.get(mac(7)) == devices[7]
        assert len(repo.devices()) == 49
        assert repo.get_record("conversation", "admin-1") == {"id": "conv-1", "n": [1, 2]}
        assert store.tenants_with_mac(mac(3)) == ["tenant-a"]
        assert store.tenants_with_mac(mac(4)) == []
        assert store.tenant_ids() == ["tenant-a"]
    finally:
        await store.close()


async def test_a_device_round_trips_exactly_through_the_file(store: Store) -> None:
    original = coded(device("tenant-a", 1, "Building 4 / Room 12 – Café"))  # noqa: RUF001 (non-ASCII on purpose)
    await store.tenant("tenant-a").commit(save=[original])
    store = await reopened(store)
    try:
        assert store.tenant("tenant-a").get(mac(1)) == original
    finally:
        await store.close()


async def test_tenants_never_see_each_others_devices(store: Store) -> None:
    a, b = store.tenant("tenant-a"), store.tenant("tenant-b")
    await a.commit(save=[device("tenant-a", 1, "A's room"), device("tenant-a", 2)])
    await b.commit(save=[device("tenant-b", 2, "B's room"), device("tenant-b", 3)])

    assert a.get(mac(3)) is None and b.get(mac(1)) is None
    assert stored(a, mac(2)).location != "B's room"
    assert {d.tenant_id for d in a.devices()} == {"tenant-a"}
    assert {d.tenant_id for d in b.devices()} == {"tenant-b"}
    assert store.tenants_with_mac(mac(2)) == ["tenant-a", "tenant-b"]
    store_files = sorted(p.name for p in store.directory.glob("tenant-*.json"))
    assert len(store_files) == 2
    for name in store_files:
        tenants = {doc["tenant_id"] for doc in orjson.loads((store.directory / name).read_bytes())["devices"].values()}
        assert len(tenants) == 1


async def test_a_device_of_another_tenant_is_refused_and_nothing_is_applied(store: Store) -> None:
    a = store.tenant("tenant-a")
    with pytest.raises(InvalidCommit, match="belongs to tenant 'tenant-b'"):
        await a.commit(save=[device("tenant-a", 1), device("tenant-b", 2)])
    assert a.devices() == []
    assert store.tenants_with_mac(mac(1)) == []


async def test_a_multi_device_commit_is_all_or_nothing(store: Store) -> None:
    repo = store.tenant("tenant-a")
    await repo.commit(save=[device("tenant-a", 1)])
    with pytest.raises(InvalidCommit):
        await repo.commit(
            save=[device("tenant-a", 2)],
            records={("conversation", "x"): {"not json": {1, 2}}},  # a set cannot be stored
        )
    assert repo.get(mac(2)) is None
    assert repo.get_record("conversation", "x") is None
    store = await reopened(store)
    try:
        assert [d.mac for d in store.tenant("tenant-a").devices()] == [mac(1)]
    finally:
        await store.close()


async def test_changes_are_visible_before_the_commit_is_awaited(store: Store) -> None:
    repo = store.tenant("tenant-a")
    pending = asyncio.ensure_future(repo.commit(save=[device("tenant-a", 1)], records={("k", "1"): {"v": 1}}))
    # The task has not run yet; its changes are staged on its first step.
    await asyncio.sleep(0)
    assert not pending.done()
    assert repo.get(mac(1)) is not None
    assert repo.get_record("k", "1") == {"v": 1}
    assert store.tenants_with_mac(mac(1)) == ["tenant-a"]
    await pending


async def test_save_and_remove_follow_the_reference_repository(store: Store) -> None:
    repo = store.tenant("tenant-a")
    first, second = device("tenant-a", 1, "first"), device("tenant-a", 1, "second")
    await repo.commit(save=[first, second])
    assert stored(repo, mac(1)).location == "second"  # saved twice: the last one wins
    await repo.commit(save=[device("tenant-a", 2)], remove=[mac(2), mac(99)])
    assert repo.get(mac(2)) is None  # saved and removed: removed; unknown MAC: ignored


async def test_get_returns_the_cached_device_without_decoding_again(store: Store) -> None:
    repo = store.tenant("tenant-a")
    saved = device("tenant-a", 1)
    await repo.commit(save=[saved])
    assert repo.get(mac(1)) is saved
    store = await reopened(store)
    try:
        repo = store.tenant("tenant-a")
        assert repo.get(mac(1)) is repo.get(mac(1))
        assert repo.devices()[0] is repo.get(mac(1))
    finally:
        await store.close()


async def test_records_are_private_copies_and_none_deletes(store: Store) -> None:
    repo = store.tenant("tenant-a")
    members = ["a"]
    value = {"conversation": {"id": "c1"}, "members": members}
    await repo.commit(records={("conversation", "u1"): value, ("conversation", "u2"): {"id": "c2"}})
    members.append("mutated by caller")
    read = repo.get_record("conversation", "u1")
    assert read == {"conversation": {"id": "c1"}, "members": ["a"]}
    assert read is not None
    read["members"].append("mutated by reader")
    assert repo.get_record("conversation", "u1") == {"conversation": {"id": "c1"}, "members": ["a"]}
    await repo.commit(records={("conversation", "u1"): None})
    assert repo.get_record("conversation", "u1") is None
    assert repo.get_record("conversation", "u2") == {"id": "c2"}
    assert store.tenant("tenant-b").get_record("conversation", "u2") is None


async def test_audit_events_are_appended_and_read_back_by_mac(store: Store) -> None:
    repo = store.tenant("tenant-a")
    for n in range(5):
        await repo.commit(save=[device("tenant-a", n)], audit=[event("tenant-a", "device.added", mac(n), location="x")])
    await repo.commit(audit=[event("tenant-a", "codes.bulk_issued", None, count=5)])

    everything = await store.read_audit("tenant-a")
    assert [e["action"] for e in everything] == ["device.added"] * 5 + ["codes.bulk_issued"]
    assert [e["mac"] for e in await store.read_audit("tenant-a", mac=mac(2))] == [mac(2)]
    assert [e["mac"] for e in await store.read_audit("tenant-a", limit=2)] == [mac(4), None]
    assert await store.read_audit("tenant-b") == []


async def test_a_torn_last_audit_line_is_skipped(store: Store) -> None:
    repo = store.tenant("tenant-a")
    await repo.commit(save=[device("tenant-a", 1)], audit=[event("tenant-a", "device.added", mac(1))])
    await store.close()
    audit_file = next(store.directory.glob("*.audit.jsonl"))
    with open(audit_file, "ab") as handle:
        handle.write(b'{"at": "2026-11-27T09:00:00+00:00", "action": "device.rem')  # a crash mid-append

    store = await open_store(store.directory)
    try:
        repo = store.tenant("tenant-a")
        assert [e["action"] for e in await store.read_audit("tenant-a")] == ["device.added"]
        await repo.commit(audit=[event("tenant-a", "device.removed", mac(1))])
        assert [e["action"] for e in await store.read_audit("tenant-a")] == ["device.added", "device.removed"]
    finally:
        await store.close()
    assert all(orjson.loads(line) for line in audit_file.read_bytes().splitlines())


async def test_reading_a_long_audit_log_returns_the_newest_events(store: Store) -> None:
    repo = store.tenant("tenant-a")
    await repo.commit(audit=[event("tenant-a", "note", mac(n % 7), n=n, pad="x" * 300) for n in range(1000)])
    newest = await store.read_audit("tenant-a", mac=mac(3), limit=4)
    assert [e["detail"]["n"] for e in newest] == [976, 983, 990, 997]


async def test_files_are_private_to_the_service_user(store: Store) -> None:
    repo = store.tenant("tenant-a")
    await repo.commit(save=[device("tenant-a", 1)], audit=[event("tenant-a", "device.added", mac(1))])
    await repo.commit(save=[device("tenant-a", 2)])  # goes to the journal
    directory = store.directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    names = sorted(p.name for p in directory.iterdir())
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".wal") for n in names)
    assert any(n.endswith(".audit.jsonl") for n in names) and ".lock" in names
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


@pytest.mark.parametrize("bad", ["", "   ", "x" * 257, 42, "tenant-\udc80"])
async def test_unusable_tenant_ids_are_refused_clearly(store: Store, bad: object) -> None:
    with pytest.raises(InvalidTenantId) as refused:
        store.tenant(bad)  # type: ignore[arg-type]
    assert "tenant id" in refused.value.message


async def test_any_tenant_id_text_stays_inside_the_data_directory(store: Store) -> None:
    odd = "../../etc/passwd\x00/" + "é" * 200
    await store.tenant(odd).commit(save=[device(odd, 1)])
    assert all(p.parent == store.directory for p in store.directory.rglob("*"))
    store = await reopened(store)
    try:
        assert store.tenant(odd).get(mac(1)) is not None
        assert store.tenant_ids() == [odd]
    finally:
        await store.close()


async def test_leftover_temporary_files_are_removed_at_open(store: Store) -> None:
    await store.tenant("tenant-a").commit(save=[device("tenant-a", 1)])
    await store.close()
    name = next(store.directory.glob("tenant-*.json")).name
    leftover = store.directory / f".{name}.0123456789ab.tmp"
    leftover.write_bytes(b'{"devices": {"1": {"mac": "trunc')
    store = await open_store(store.directory)
    try:
        assert not leftover.exists()
        assert store.tenant("tenant-a").get(mac(1)) is not None
    finally:
        await store.close()


async def test_close_finishes_pending_commits_then_refuses_new_ones(store: Store) -> None:
    repo = store.tenant("tenant-a")
    tasks = [asyncio.ensure_future(repo.commit(save=[device("tenant-a", n)])) for n in range(20)]
    await asyncio.sleep(0)
    await store.close()
    assert all(t.done() and t.exception() is None for t in tasks)
    with pytest.raises(StoreClosed):
        await repo.commit(save=[device("tenant-a", 99)])
    store = await open_store(store.directory)
    try:
        assert len(store.tenant("tenant-a").devices()) == 20
    finally:
        await store.close()


async def test_a_cancelled_request_does_not_cancel_its_commit(store: Store) -> None:
    repo = store.tenant("tenant-a")
    task = asyncio.ensure_future(repo.commit(save=[device("tenant-a", 1)]))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store = await reopened(store)
    try:
        assert store.tenant("tenant-a").get(mac(1)) is not None
    finally:
        await store.close()


async def test_after_a_clean_close_plain_tinydb_reads_everything(store: Store) -> None:
    repo = store.tenant("tenant-a")
    await repo.commit(save=[device("tenant-a", n) for n in range(3)])
    await repo.commit(save=[moved(device("tenant-a", 1), "journaled")])  # journal only, until close
    await store.close()
    path = next(store.directory.glob("tenant-*.json"))
    with TinyDB(path, access_mode="r") as db:
        docs = {doc["mac"]: doc for doc in db.table("devices").all()}
        meta = db.table("_meta").get(doc_id=1)
    assert docs[mac(1)]["location"] == "journaled"
    assert device_from_doc(docs[mac(2)]) == device("tenant-a", 2)
    assert meta["schema_version"] == 1 and meta["tenant_id"] == "tenant-a"
    assert os.path.getsize(path.with_suffix(".wal")) == 0



async def test_a_data_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(StoreError, match="PROVISIONING_DATA"):
        await open_store(blocker / "data")
