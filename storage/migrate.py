"""Moving a single-machine install to PostgreSQL: `provisioning-bot migrate-store`.

Every tenant of a TinyDB data directory (its devices, records and audit log) is copied
into the database. Copying is idempotent: a row the database already holds is left as
it is (so running it again changes nothing, and never rolls back what the bot did since
on PostgreSQL), and an audit event already there is not added twice. Each tenant's copy
is one transaction. Afterwards the counts are read back from the database and compared
with the source: a tenant whose counts don't match is reported as such.

Run it with the bot stopped (the data directory's lock is taken while copying).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import orjson

from storage.audit_log import read_tail
from storage.device_repository import DEVICES, RECORDS
from storage.postgres import open_postgres_store
from storage.postgres.replica import encode_key
from storage.store import open_store


@dataclass(frozen=True)
class TenantCopy:
    tenant_id: str
    documents: int  # in the source
    audit: int
    copied_documents: int  # new in the database this run
    copied_audit: int
    documents_in_database: int  # read back after the copy
    audit_in_database: int

    @property
    def matches(self) -> bool:
        return self.documents_in_database >= self.documents and self.audit_in_database >= self.audit


async def migrate_store(data_dir: Path, database_url: str) -> list[TenantCopy]:
    """Copy every tenant of `data_dir` into the database at `database_url`."""
    source = await open_store(data_dir)
    try:
        target = await open_postgres_store(database_url)  # creates or upgrades the schema
        await target.close()
        connection = await asyncpg.connect(database_url)
        try:
            return [await _copy_tenant(connection, source, tenant_id) for tenant_id in source.tenant_ids()]
        finally:
            await connection.close()
    finally:
        await source.close()


async def _copy_tenant(connection: asyncpg.Connection, source: object, tenant_id: str) -> TenantCopy:
    from storage.store import Store

    assert isinstance(source, Store)
    file = source.tenant_file(tenant_id)
    rows = [(table, encode_key(key), orjson.dumps(doc).decode())
            for table in (DEVICES, RECORDS) for key, doc in file.items(table)]
    events = read_tail(file.audit_path, file.audit_size, 10**9, lambda event: True)
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", tenant_id)
        version: int = await connection.fetchval("SELECT nextval('change_versions')")
        inserted = await connection.fetch(
            "INSERT INTO documents (tenant_id, tbl, key, doc, version) "
            "SELECT $1, t, k, d::jsonb, $2 FROM unnest($3::text[], $4::text[], $5::text[]) AS u(t, k, d) "
            "ON CONFLICT DO NOTHING RETURNING tbl, key, doc::text AS doc",
            tenant_id, version, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        if inserted:
            await connection.execute(
                "INSERT INTO changes (version, tenant_id, tbl, key, doc, instance) "
                "SELECT $1, $2, t, k, d::jsonb, 'migrate-store' FROM unnest($3::text[], $4::text[], $5::text[]) "
                "AS u(t, k, d)", version, tenant_id, [r["tbl"] for r in inserted], [r["key"] for r in inserted],
                [r["doc"] for r in inserted])
        present = {_canonical(orjson.loads(row["doc"])) for row in await connection.fetch(
            "SELECT doc::text AS doc FROM audit WHERE tenant_id = $1", tenant_id)}
        new_events = [(event.get("mac"), orjson.dumps(event).decode()) for event in events
                      if _canonical(event) not in present]
        if new_events:
            await connection.execute(
                "INSERT INTO audit (tenant_id, mac, doc) SELECT $1, m, d::jsonb FROM unnest($2::text[], $3::text[]) "
                "AS u(m, d)", tenant_id, [e[0] for e in new_events], [e[1] for e in new_events])
        await connection.execute("SELECT pg_notify('provisioning_changes_' || current_schema(), $1)", tenant_id)
    documents_in_db: int = await connection.fetchval(
        "SELECT count(*) FROM documents WHERE tenant_id = $1", tenant_id)
    audit_in_db: int = await connection.fetchval("SELECT count(*) FROM audit WHERE tenant_id = $1", tenant_id)
    return TenantCopy(tenant_id, len(rows), len(events), len(inserted), len(new_events), documents_in_db, audit_in_db)


def _canonical(event: object) -> bytes:
    """An audit event as the same bytes whoever stored it (key order, spacing)."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def tenant_label(tenant_id: str) -> str:
    """A tenant id short enough for a table row (ids may be long)."""
    if len(tenant_id) <= 40:
        return tenant_id
    return tenant_id[:28] + "…" + hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
