"""`provisioning-bot migrate-store`: a TinyDB install copied into PostgreSQL, idempotently."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot import cli
from storage.postgres import open_postgres_store
from storage.store import open_store
from tests.pg import fresh_schema
from tests.storage.conftest import device, event, mac, moved


async def fill(data: Path) -> None:
    store = await open_store(data)
    try:
        await store.tenant("t1").commit(save=[device("t1", n) for n in range(30)],
                                        audit=[event("t1", "devices.added"), event("t1", "x", mac(1))],
                                        records={("conversation", "latest"): {"id": "c1"}})
        await store.tenant("t2").commit(save=[device("t2", 99)], audit=[event("t2", "device.added", mac(99))])
    finally:
        await store.close()


async def test_every_tenant_is_copied_and_a_second_run_changes_nothing(tmp_path: Path, capsys) -> None:
    await fill(tmp_path / "data")
    async with fresh_schema() as url:
        assert await_main(["migrate-store", "--from", str(tmp_path / "data"), "--to", url]) == 0
        first = capsys.readouterr().out
        assert "2 tenant(s) in the database" in first and "MISMATCH" not in first
        store = await open_postgres_store(url)
        try:
            assert len(store.tenant("t1").devices()) == 30
            assert store.tenant("t1").get_record("conversation", "latest") == {"id": "c1"}
            assert store.tenants_with_mac(mac(99)) == ["t2"]
            assert [e["action"] for e in await store.read_audit("t1")] == ["devices.added", "x"]
            await store.tenant("t1").commit(save=[moved(device("t1", 1), "changed on PostgreSQL")])
        finally:
            await store.close()
        assert await_main(["migrate-store", "--from", str(tmp_path / "data"), "--to", url]) == 0
        again = capsys.readouterr().out
        rows = [line.split() for line in again.splitlines() if line.startswith("t1")]
        assert rows == [["t1", "31", "0", "2", "0", "ok"]], again
        store = await open_postgres_store(url)
        try:
            assert store.tenant("t1").get(mac(1)).location == "changed on PostgreSQL", "never rolled back"
            assert len(await store.read_audit("t1")) == 2
        finally:
            await store.close()


@pytest.mark.parametrize("target", ["", "mysql://x", "postgresql://postgres@127.0.0.1:1/none"])
async def test_bad_targets_are_one_line_and_exit_2(tmp_path: Path, capsys, target: str) -> None:
    await fill(tmp_path / "data")
    assert await_main(["migrate-store", "--from", str(tmp_path / "data"), "--to", target]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("provisioning-bot: ")


def await_main(argv: list[str]) -> int:
    """Run the CLI as a user does (it starts its own event loop), off the test's loop."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(cli.main, argv).result()
