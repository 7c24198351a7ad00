"""The PostgreSQL store: every tenant's documents in one database, shared by instances.

`await open_postgres_store(url)` connects (a pool for writes and reads at open, one
connection listening for other instances' commits), applies the schema migrations under
a lock, loads every tenant's documents into memory (the replicas reads are served from)
and starts following the change feed. Several processes may open the same database at
once: each commit is checked against the rows it read (see `writer.py`), and each
instance applies the others' commits as they are notified, in commit order per tenant.

If the listening connection is lost, the store reconnects with growing pauses and then
catches up from the feed (every change after the last one it applied); meanwhile reads
may lag other instances' writes, and writes still go through (each one is checked).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from itertools import compress
from typing import Any, Final

import asyncpg
import orjson

from storage.device_repository import TABLES
from storage.errors import StoreError
from storage.postgres.attempts import PostgresAttemptCounter
from storage.postgres.errors import DATABASE_ERRORS, database_errors
from storage.postgres.files import PostgresFileStash
from storage.postgres.limits import PostgresAttemptLimit
from storage.postgres.replica import FeedRun, TenantReplica, feed_runs
from storage.postgres.schema import migrate
from storage.postgres.writer import CHANNEL, BulkWork, TenantWriter
from storage.tenants import TenantStore

log = logging.getLogger(__name__)

POOL_SIZE: Final = 10
CONNECT_TIMEOUT: Final = 10.0
FEED_KEPT: Final = timedelta(days=1)  # an instance away longer reloads rather than catching up
PRUNE_SECONDS: Final = 3600.0  # how often an instance prunes the feed
NOTICE_CLAIM_SECONDS: Final = 600.0  # an instance that stopped mid-send: its notices go to another after this
COMMAND_TIMEOUT: Final = 30.0  # a statement that takes longer fails (and the change is refused)
RECONNECT_PAUSES: Final = (0.5, 1.0, 2.0, 5.0, 10.0)
FEED_PAGE: Final = 2000  # feed rows fetched per round trip (beyond one page: decoded in a worker thread)


class PostgresStore(TenantStore):
    """All tenants' devices in PostgreSQL, with an in-memory replica per tenant."""

    def __init__(self, pool: asyncpg.Pool, url: str, instance: str, channel: str,
                 bulk_work: BulkWork = contextlib.nullcontext) -> None:
        super().__init__()
        self._bulk_work = bulk_work
        self._warming: set[asyncio.Task[None]] = set()
        self._pool = pool
        self._url = url
        self.instance = instance
        self._channel = channel
        self._writers: dict[str, TenantWriter] = {}
        self._listener: asyncpg.Connection | None = None
        self._follow_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event = asyncio.Event()
        self._dirty: set[str] = set()  # tenants with notified changes not yet fetched

    # -- tenants -------------------------------------------------------------------------

    def _new_tenant(self, tenant_id: str) -> TenantReplica:
        replica = TenantReplica(tenant_id, TABLES, lambda pending: self._writer(tenant_id).submit(pending))
        self._writers[tenant_id] = TenantWriter(replica, self._pool, self.instance, self._channel,
                                                self._bulk_work, lambda: self._warm_later(tenant_id))
        return replica

    def _writer(self, tenant_id: str) -> TenantWriter:
        return self._writers[tenant_id]

    def transactions(self, tenant_id: str) -> int:
        """How many transactions this instance's writer committed for the tenant (benchmarks)."""
        return self._writer(tenant_id).transactions

    def replica(self, tenant_id: str) -> TenantReplica:
        """The tenant's in-memory documents (maintenance and tests)."""
        self.tenant(tenant_id)
        replica = self._documents[tenant_id]
        assert isinstance(replica, TenantReplica)
        return replica

    def files(self) -> PostgresFileStash:
        """Files behind download links, in the database (shared by every instance)."""
        return PostgresFileStash(self._pool)

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        """Each notice to one instance: a claim holds until the notice is settled (its outbox
        record deleted) or lapses after `NOTICE_CLAIM_SECONDS` (its instance stopped)."""
        if not keys:
            return []
        with database_errors():
            async with self._pool.acquire() as connection:
                rows = await connection.fetch(
                    "INSERT INTO notice_claims (tenant_id, key, instance, claimed_at) "
                    "SELECT $1, k, $2, now() FROM unnest($3::text[]) AS k "
                    "ON CONFLICT (tenant_id, key) DO UPDATE SET instance = $2, claimed_at = now() "
                    "WHERE notice_claims.instance = $2 "
                    "OR notice_claims.claimed_at < now() - make_interval(secs => $4) RETURNING key",
                    tenant_id, self.instance, list(keys), NOTICE_CLAIM_SECONDS)
                await connection.execute("DELETE FROM notice_claims WHERE claimed_at < now() - interval '1 day'")
        return [row["key"] for row in rows]

    def code_failures(self) -> PostgresAttemptCounter:
        """Wrong verification codes per MAC, counted in the database (every instance alike)."""
        return PostgresAttemptCounter(self._pool)

    def attempt_limit(self, limit: int, window: int) -> PostgresAttemptLimit:
        """Attempts per key per window, counted in the database (shared by every instance)."""
        return PostgresAttemptLimit(self._pool, limit, window)

    def tenant_ids(self) -> list[str]:
        return sorted(tid for tid, docs in self._documents.items() if any(docs.count(t.name) for t in TABLES))

    async def read_audit(self, tenant_id: str, mac: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's last `limit` audit events (of one MAC if given), oldest first."""
        with database_errors():
            rows = await self._audit_rows(tenant_id, mac, limit)
        return [orjson.loads(row["doc"]) for row in reversed(rows)]

    async def _audit_rows(self, tenant_id: str, mac: str | None, limit: int) -> list[asyncpg.Record]:
        async with self._pool.acquire() as connection:
            rows: list[asyncpg.Record] = await connection.fetch(
                "SELECT doc::text AS doc FROM audit WHERE tenant_id = $1 AND ($2::text IS NULL OR mac = $2) "
                "ORDER BY id DESC LIMIT $3", tenant_id, mac, limit)
            return rows

    # -- loading and following -------------------------------------------------------------

    async def load(self) -> None:
        """Every tenant's documents as of one snapshot, and the feed position it stands at."""
        async with self._pool.acquire() as connection, connection.transaction(isolation="repeatable_read",
                                                                               readonly=True):
            rows = await connection.fetch("SELECT tenant_id, tbl, key, doc::text AS doc, version FROM documents")
            positions = await connection.fetch("SELECT tenant_id, max(version) AS at FROM changes GROUP BY tenant_id")
        by_tenant: dict[str, list[tuple[int, str, str, str | None]]] = defaultdict(list)
        for row in rows:
            by_tenant[row["tenant_id"]].append((row["version"], row["tbl"], row["key"], row["doc"]))
        for tenant_id, tenant_rows in by_tenant.items():
            replica = self.replica(tenant_id)
            for run in feed_runs(tenant_rows):  # one step per table, not per row
                replica.load_run(run)
        for row in positions:
            self.replica(row["tenant_id"]).feed_position = row["at"]

    async def follow(self) -> None:
        """Listen for other instances' commits (before loading, so none falls in between)."""
        self._listener = await self._listen_connection()
        self._follow_task = asyncio.get_running_loop().create_task(self._follow())

    async def _listen_connection(self) -> asyncpg.Connection:
        connection = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT,
                                           server_settings={"application_name": f"provisioning-bot {self.instance}"})
        await connection.add_listener(self._channel, self._notified)
        connection.add_termination_listener(self._lost)
        return connection

    def _lost(self, connection: Any) -> None:
        """The listening connection closed (the server restarted, a network cut): reconnect."""
        if not self._closed:
            log.warning("lost the connection that follows other instances' changes; reconnecting")
            self._wake.set()

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._dirty.add(payload)
        self._wake.set()

    async def _follow(self) -> None:
        pruned_at = time.monotonic()
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PRUNE_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if time.monotonic() - pruned_at >= PRUNE_SECONDS:
                pruned_at = time.monotonic()
                with contextlib.suppress(StoreError):  # tried again in an hour
                    await self.prune_feed()
            tenants, self._dirty = self._dirty, set()
            try:
                await self._catch_up(tenants)
                if self._listener is None or self._listener.is_closed():
                    await self._reconnect()
            except Exception as error:  # the follower must outlive any failure: it reconnects and catches up
                log.warning("following other instances' changes failed (%r); reconnecting", error)
                self._dirty |= tenants
                await self._reconnect()

    async def _catch_up(self, tenants: set[str]) -> None:
        """Apply every change after each tenant's feed position, in order."""
        if not tenants:
            return
        async with self._pool.acquire() as connection:
            horizon: int = await connection.fetchval("SELECT version FROM feed_horizon")
            for tenant_id in tenants:
                replica = self.replica(tenant_id)
                if replica.feed_position < horizon:
                    await self._reload(connection, replica)
                    continue
                # This instance's own changes are in its copy already: only the others' are read
                # (a bulk commit of ours is not fetched back), up to the newest of either. Many
                # rows (another instance's bulk commit: 50,000) are read in pages and decoded
                # off the loop; a few, the usual case, in one round trip.
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    newest, count = await connection.fetchrow(
                        "SELECT max(version), count(*) FILTER (WHERE instance <> $3) FROM changes "
                        "WHERE tenant_id = $1 AND version > $2", tenant_id, replica.feed_position, self.instance)
                    if newest is None:
                        continue
                    arguments = (_FEED_ROWS, tenant_id, replica.feed_position, newest, self.instance)
                    rows: list[tuple[int, str, str, str | None]] = []
                    if count <= FEED_PAGE:
                        rows = [(row[0], row[1], row[2], row[3]) for row in await connection.fetch(*arguments)]
                    else:
                        cursor = await connection.cursor(*arguments)
                        while page := await cursor.fetch(FEED_PAGE):
                            rows += [(row[0], row[1], row[2], row[3]) for row in page]
                many = len(rows) > FEED_PAGE  # another instance's bulk commit: tens of thousands of objects
                with self._bulk_work() if many else contextlib.nullcontext():
                    runs = await asyncio.to_thread(feed_runs, rows) if many else feed_runs(rows)
                    # One synchronous step: a commit of another instance is seen whole, never in part.
                    replica.apply_remote(runs)
                    replica.feed_position = newest
                if many:
                    self._warm_later(tenant_id)

    def _warm_later(self, tenant_id: str) -> None:
        """Decode the tenant's changed devices in the background (see `DeviceRepository.warm`)."""
        async def warm() -> None:
            with self._bulk_work():
                await self.tenant(tenant_id).warm()

        task = asyncio.get_running_loop().create_task(warm())
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)

    async def _reload(self, connection: asyncpg.Connection, replica: TenantReplica) -> None:
        """The tenant as the database holds it now: for a copy behind the pruned feed."""
        assert replica.tenant_id is not None
        log.warning("tenant %s fell behind the change feed; reloading it", replica.tenant_id)
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            rows = await connection.fetch(
                "SELECT tbl, key, doc::text AS doc, version FROM documents WHERE tenant_id = $1", replica.tenant_id)
            # (tbl, key, doc, version) rows
            position = await connection.fetchval(
                "SELECT coalesce(max(version), 0) FROM changes WHERE tenant_id = $1", replica.tenant_id)
        with self._bulk_work():  # the whole tenant anew: decoded off the loop
            runs = await asyncio.to_thread(feed_runs, [(row[3], row[0], row[1], row[2]) for row in rows])
            held = {run.table: set(run.keys) for run in runs}
            for table in (spec.name for spec in TABLES):  # rows the database no longer has
                gone = [key for key in replica.keys(table) if key not in held.get(table, ())]
                runs.append(FeedRun(table, gone, [0] * len(gone), [None] * len(gone)))
            for run in runs:
                waiting = replica.unsettled_of(run.table, set(run.keys))  # local commits decide those
                if waiting:
                    keep = [key not in waiting for key in run.keys]
                    run = FeedRun(run.table, list(compress(run.keys, keep)), list(compress(run.versions, keep)),
                                  list(compress(run.docs, keep)))
                replica.load_run(run)
            replica.feed_position = position
        self._warm_later(replica.tenant_id)

    async def prune_feed(self) -> None:
        """Drop feed entries older than `FEED_KEPT` (any instance may; they are not the data)."""
        with database_errors():
            async with self._pool.acquire() as connection, connection.transaction():
                pruned = await connection.fetchval(
                    "WITH gone AS (DELETE FROM changes WHERE at < now() - $1::interval RETURNING version) "
                    "SELECT max(version) FROM gone", FEED_KEPT)
                if pruned is not None:
                    await connection.execute(
                        "UPDATE feed_horizon SET version = greatest(version, $1)", pruned)

    async def _reconnect(self) -> None:
        for pause in (*RECONNECT_PAUSES, *([RECONNECT_PAUSES[-1]] * 1_000_000)):
            if self._closed:
                return
            try:
                if self._listener is not None and not self._listener.is_closed():
                    self._listener.terminate()
                self._listener = await self._listen_connection()
                async with self._pool.acquire() as connection:
                    known = await connection.fetch("SELECT DISTINCT tenant_id FROM changes")
                self._dirty |= {row["tenant_id"] for row in known} | set(self._documents)
                self._wake.set()
                log.info("following other instances' changes again")
                return
            except DATABASE_ERRORS:
                await asyncio.sleep(pause)

    async def sync(self) -> None:
        """Apply every change committed so far by any instance (tests and maintenance)."""
        async with self._pool.acquire() as connection:
            tenants = {row["tenant_id"] for row in await connection.fetch("SELECT DISTINCT tenant_id FROM changes")}
        await self._catch_up(tenants | set(self._documents))

    async def close(self) -> None:
        """Finish every pending write, stop following, close the connections. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        try:
            await asyncio.gather(*(writer.close() for writer in self._writers.values()))
        finally:
            if self._follow_task is not None:
                self._follow_task.cancel()
            for task in list(self._warming):
                task.cancel()
            if self._listener is not None and not self._listener.is_closed():
                await self._listener.close()
            await self._pool.close()


async def open_postgres_store(url: str, *, instance: str | None = None,
                              bulk_work: BulkWork = contextlib.nullcontext) -> PostgresStore:
    """Connect, migrate, load and follow. `StoreError` with what to do if the database
    can't be reached or refuses. `bulk_work`: the context another instance's bulk change
    is taken in (the service passes `bot.process.collector_paused`)."""
    instance = instance or uuid.uuid4().hex[:12]
    name = f"provisioning-bot {instance}"
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=POOL_SIZE, timeout=CONNECT_TIMEOUT,
                                         command_timeout=COMMAND_TIMEOUT, server_settings={"application_name": name})
    except (*DATABASE_ERRORS, ValueError) as error:
        raise StoreError(f"Cannot connect to the database at DATABASE_URL ({_what(error)}). Check that the server "
                         "is running and reachable, and the URL's user, password and database name.") from error
    try:
        async with pool.acquire() as connection:
            await migrate(connection)
            schema = await connection.fetchval("SELECT current_schema()")
    except BaseException:
        await pool.close()
        raise
    store = PostgresStore(pool, url, instance, f"{CHANNEL}_{schema}", bulk_work)
    try:
        await store.follow()
        await store.load()
    except BaseException:
        await store.close()
        raise
    return store


def _what(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


# Another instance's changes to one tenant after this copy's position, in commit order.
_FEED_ROWS: Final = ("SELECT version, tbl, key, doc::text AS doc FROM changes WHERE tenant_id = $1 "
                     "AND version > $2 AND version <= $3 AND instance <> $4 ORDER BY version")
