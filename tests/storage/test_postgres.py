"""The PostgreSQL store itself: schema migrations, loading, following other instances,
and refusing what can't be. (Every service test also runs over it: see
tests/provisioning/conftest.py.)"""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from provisioning.documents import device_to_doc
from storage.errors import StoreError, StoreSchemaUnsupported
from storage.postgres import open_postgres_store
from storage.postgres.schema import SCHEMA_VERSION
from tests.pg import fresh_schema
from tests.storage.conftest import device, event, mac, moved


async def test_two_instances_starting_together_apply_each_migration_once() -> None:
    async with fresh_schema() as url:
        stores = await asyncio.gather(*(open_postgres_store(url) for _ in range(3)))
        try:
            connection = await asyncpg.connect(url)
            versions = await connection.fetch("SELECT version FROM schema_version ORDER BY version")
            await connection.close()
            assert [row["version"] for row in versions] == list(range(1, SCHEMA_VERSION + 1))
        finally:
            await asyncio.gather(*(store.close() for store in stores))


async def test_a_database_newer_than_the_code_is_refused_and_left_alone() -> None:
    async with fresh_schema() as url:
        store = await open_postgres_store(url)
        await store.close()
        connection = await asyncpg.connect(url)
        await connection.execute("INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION + 5)
        with pytest.raises(StoreSchemaUnsupported) as refused:
            await open_postgres_store(url)
        assert f"version {SCHEMA_VERSION + 5}" in refused.value.message and "Upgrade" in refused.value.message
        assert await connection.fetchval("SELECT max(version) FROM schema_version") == SCHEMA_VERSION + 5
        await connection.close()


async def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError) as refused:
        await open_postgres_store("postgresql://postgres@127.0.0.1:1/none")
    assert "Cannot connect to the database at DATABASE_URL" in refused.value.message


async def test_a_reopened_store_loads_what_was_committed() -> None:
    async with fresh_schema() as url:
        store = await open_postgres_store(url)
        repo = store.tenant("t1")
        await repo.commit(save=[device("t1", n) for n in range(50)], audit=[event("t1", "devices.added")],
                          records={("conversation", "latest"): {"id": "c1"}})
        await repo.commit(save=[moved(device("t1", 1), "Hall")], remove=[mac(2)])
        await store.close()
        again = await open_postgres_store(url)
        try:
            reopened = again.tenant("t1")
            assert len(reopened.devices()) == 49
            assert reopened.get(mac(1)).location == "Hall" and reopened.get(mac(2)) is None
            assert reopened.get_record("conversation", "latest") == {"id": "c1"}
            assert again.tenants_with_mac(mac(3)) == ["t1"]
            assert [e["action"] for e in await again.read_audit("t1")] == ["devices.added"]
        finally:
            await again.close()


async def test_each_instance_follows_the_others_commits_in_order() -> None:
    async with fresh_schema() as url:
        a, b = await open_postgres_store(url), await open_postgres_store(url)
        try:
            for step in range(20):
                await a.tenant("t1").commit(save=[moved(device("t1", 1), f"step {step}")])
            await a.tenant("t2").commit(save=[device("t2", 7)])
            async with asyncio.timeout(5):
                while b.tenant("t1").get(mac(1)) is None or b.tenant("t1").get(mac(1)).location != "step 19" \
                        or b.tenants_with_mac(mac(7)) != ["t2"]:
                    await asyncio.sleep(0.01)
        finally:
            await a.close()
            await b.close()


async def test_each_notice_is_claimed_by_one_instance_until_its_claim_lapses(monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.postgres import store as pg_store

    async with fresh_schema() as url:
        a, b = await open_postgres_store(url), await open_postgres_store(url)
        try:
            keys = [f"k{n}" for n in range(20)]
            first, second = await asyncio.gather(a.claim_notices("t1", keys), b.claim_notices("t1", keys))
            assert sorted(first + second) == sorted(keys) and not set(first) & set(second)
            assert sorted(await a.claim_notices("t1", keys)) == sorted(first), "a claim holds for its instance"
            monkeypatch.setattr(pg_store, "NOTICE_CLAIM_SECONDS", 0.0)  # as if `a` had stopped long ago
            await asyncio.sleep(0.01)
            assert sorted(await b.claim_notices("t1", keys)) == sorted(keys)
        finally:
            await a.close()
            await b.close()


async def test_an_instance_behind_the_pruned_feed_reloads_the_tenant() -> None:
    async with fresh_schema() as url:
        a, b = await open_postgres_store(url), await open_postgres_store(url)
        try:
            await a.tenant("t1").commit(save=[device("t1", 1), device("t1", 2)])
            await b.sync()
            stale = b.replica("t1")
            old = stale.get("devices", mac(1)), stale.version("devices", mac(1))
            await a.tenant("t1").commit(save=[moved(device("t1", 1), "Hall")], remove=[mac(2)])
            await b.sync()
            # As if b had been away while that commit came and the feed was pruned past it:
            stale.load("devices", mac(1), old[0], old[1])
            stale.load("devices", mac(2), device_to_doc(device("t1", 2)), old[1])
            stale.feed_position = 0
            connection = await asyncpg.connect(url)
            await connection.execute("UPDATE changes SET at = now() - interval '2 days'")
            await connection.close()
            await a.prune_feed()
            await b.sync()
            assert b.tenant("t1").get(mac(1)).location == "Hall" and b.tenant("t1").get(mac(2)) is None
        finally:
            await a.close()
            await b.close()
