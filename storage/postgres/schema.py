"""The PostgreSQL schema, as versioned forward-only migrations applied at start-up.

Each migration runs in its own transaction and records its number in `schema_version`.
Every instance runs `migrate` when it starts; a session-level advisory lock makes two
instances starting together apply each migration once (the second waits, then finds
nothing to do). A database whose schema is newer than this code stops the process with
`StoreSchemaUnsupported` and is left untouched.

The tables:

- `documents`: the current state, one row per (tenant, table, key): a device by MAC, or
  a record by (kind, key). `version` is the change that wrote the row; a commit changes a
  row only if its version is still the one the committing instance read (optimistic
  concurrency), so a check-then-change made in one instance holds against all others.
- `changes`: every committed change in order, for the other instances to follow (their
  in-memory copy of the documents is kept current from it). `version` comes from one
  sequence and is taken while the tenant's advisory lock is held, so within a tenant it
  rises in commit order. Old entries are pruned.
- `audit`: who did what, when (never a code or a token), per tenant.
- `files`: files behind download links and file offers (`storage.files`), by token hash.
- `attempts`: attempts per key per window (the device API's rate limit).
- `notice_claims`: which instance sends which undelivered notice, until it is settled or
  the claim lapses (that instance stopped).
- `code_failures`: wrong verification codes per MAC, counted across instances.
- `feed_horizon`: the newest version pruned from `changes` (older than `FEED_KEPT`);
  an instance whose position in a tenant's feed is behind it reloads that tenant.
"""
from __future__ import annotations

from typing import Final

import asyncpg

from storage.errors import StoreSchemaUnsupported

# Any 64-bit number unique to this application: the lock migrations are applied under.
MIGRATION_LOCK: Final = 0x70726F7669736E31  # "provisn1"

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: documents, their change feed, the audit log.
    """
    CREATE TABLE documents (
        tenant_id text NOT NULL,
        tbl text NOT NULL,
        key text NOT NULL,
        doc jsonb NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (tenant_id, tbl, key)
    );
    CREATE SEQUENCE change_versions;
    CREATE TABLE changes (
        version bigint NOT NULL,
        tenant_id text NOT NULL,
        tbl text NOT NULL,
        key text NOT NULL,
        doc jsonb,
        instance text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX changes_by_tenant ON changes (tenant_id, version);
    CREATE INDEX changes_by_time ON changes (at);
    CREATE TABLE audit (
        id bigserial PRIMARY KEY,
        tenant_id text NOT NULL,
        mac text,
        doc jsonb NOT NULL
    );
    CREATE INDEX audit_by_tenant ON audit (tenant_id, id);
    """,
    # 2: files behind download links and file offers, shared by every instance.
    """
    CREATE TABLE files (
        token_hash text PRIMARY KEY,
        tenant_id text NOT NULL,
        name text NOT NULL,
        content bytea,
        content_type text NOT NULL,
        expires_at timestamptz NOT NULL,
        taken_at timestamptz
    );
    CREATE INDEX files_by_expiry ON files (expires_at);
    """,
    # 3: attempts per key per window (the device API's rate limit), shared by every instance.
    """
    CREATE TABLE attempts (
        key text NOT NULL,
        window_start bigint NOT NULL,
        hits integer NOT NULL,
        PRIMARY KEY (key, window_start)
    );
    """,
    # 4: which instance sends which undelivered notice (the outbox is in `documents`).
    """
    CREATE TABLE notice_claims (
        tenant_id text NOT NULL,
        key text NOT NULL,
        instance text NOT NULL,
        claimed_at timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, key)
    );
    """,
    # 5: wrong verification codes per MAC (for every MAC alike: see provisioning/attempts.py).
    """
    CREATE TABLE code_failures (
        mac text PRIMARY KEY,
        failures integer NOT NULL,
        last_at timestamptz NOT NULL
    );
    """,
    # 6: how far the change feed was pruned (an instance behind it reloads the tenant).
    """
    CREATE TABLE feed_horizon (
        id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        version bigint NOT NULL
    );
    INSERT INTO feed_horizon (version) VALUES (0);
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)


async def migrate(connection: asyncpg.Connection) -> int:
    """Bring the schema to `SCHEMA_VERSION`; return the version found before."""
    await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        found: int = await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if found > SCHEMA_VERSION:
            raise StoreSchemaUnsupported(
                f"The database's schema is version {found}, written by a newer provisioning-bot; this one "
                f"knows up to version {SCHEMA_VERSION}. It was left untouched. Upgrade provisioning-bot, or "
                "point DATABASE_URL at a database this version made.",
                "DATABASE_URL",
            )
        for number in range(found + 1, SCHEMA_VERSION + 1):
            async with connection.transaction():
                await connection.execute(MIGRATIONS[number - 1])
                await connection.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
        return found
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
