"""Making local commits durable in PostgreSQL, each checked against what it read.

One writer task per tenant takes every commit staged meanwhile and writes them in one
transaction (group commit), in staging order, under the tenant's advisory lock (so the
versions it takes rise in commit order within the tenant, which the change feed relies
on). Each commit has its own version number, and every row it changes is written only if
the row still has the version the local copy read (commits of distinct rows are written
in one statement for the whole batch):

- a new row: `INSERT ... ON CONFLICT DO NOTHING` (someone else added it: refused);
- a changed row: `UPDATE ... WHERE version = <read version>`;
- a removed row: `DELETE ... WHERE version = <read version>`.

If any row of a commit doesn't match, the transaction is rolled back, the commits before
it are written again in a new one, and it is refused with `ConcurrentChange`; so is every
later commit of the tenant staged on top of it (as the file store does with a failed flush).
Refused commits are undone in memory, last first, and their rows re-read from the
database, so the next attempt sees what won.
The commit's changes go to the `changes` feed and its audit events to `audit` in the
same statement, which also notifies the other instances (delivered at commit). Rows go
to the database as JSON arrays, built in a worker thread for a bulk commit, so sending
50,000 of them costs the event loop almost nothing. A database that can't
be reached refuses every commit of the batch with `StoreWriteFailed`, undone likewise.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Final

import asyncpg
import orjson

from provisioning.repository import ConcurrentChange
from storage.errors import StoreClosed
from storage.postgres.errors import DATABASE_ERRORS, unavailable
from storage.postgres.replica import CHAINED, BulkRun, FeedRun, Pending, TenantReplica, decode_key, encode_key

log = logging.getLogger(__name__)

CHANNEL: Final = "provisioning_changes"  # + the schema's name: one feed per schema
MAX_BATCH: Final = 500  # commits per transaction
BULK_ROWS: Final = 2000  # rows in a batch beyond which they are gathered in a worker thread
STATEMENT_ROWS: Final = 2000  # rows per statement
READ_PAGE: Final = 2000  # rows per round trip when re-reading after a refusal
# Work that makes tens of thousands of long-lived objects runs inside this (the service
# passes `bot.process.collector_paused`: no garbage collection walks them meanwhile).
BulkWork = Callable[[], AbstractContextManager[Any]]


class _Refused(Exception):
    """A commit whose rows changed in the database since they were read (its index in the batch)."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class TenantWriter:
    """The durable writes of one tenant's replica."""

    def __init__(self, replica: TenantReplica, pool: asyncpg.Pool, instance: str, channel: str,
                 bulk_work: BulkWork = nullcontext,
                 after_bulk_load: Callable[[], None] = lambda: None) -> None:
        """`bulk_work`: the context a re-read of many rows runs in; `after_bulk_load`: told
        when one is done (the store then decodes the tenant's devices in the background)."""
        assert replica.tenant_id is not None
        self._bulk_work = bulk_work
        self._after_bulk_load = after_bulk_load
        self._replica = replica
        self._tenant_id: str = replica.tenant_id
        self._pool = pool
        self._instance = instance
        self._channel = channel
        self._queue: list[Pending] = []
        # The version this instance's last written commit gave each row that still has
        # later local commits waiting (their CHAINED expectation resolves to it), by table.
        self._last_written: dict[str, dict[Any, int | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.transactions = 0

    def submit(self, pending: Pending) -> None:
        if self._closed:
            self._replica.undo(pending)
            raise StoreClosed("The store is closed.")
        self._queue.append(pending)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            await self._write(batch)

    async def _write(self, batch: list[Pending]) -> None:
        try:
            written, refused_at = await self._transaction(batch)
            if refused_at is not None and refused_at > 0:
                # The whole transaction was rolled back at the refusal: write the commits
                # before it again (fresh versions), then refuse the rest.
                written, again = await self._transaction(batch[:refused_at])
                refused_at = refused_at if again is None else again
        except Exception as error:  # lost, refused, timed out, or a driver in a state it can't go on from
            log.error("database write for tenant %s failed; %d commits undone: %r", self._tenant_id, len(batch), error)
            self._undo(batch)
            self._fail(batch, unavailable(error))
            return
        for pending, version in written:
            self._replica.confirm(pending, version)
            self._replica.settled(pending)
            self._track_written(pending, version)
            if not pending.future.done():
                pending.future.set_result(None)
            if pending.run is not None:
                await asyncio.sleep(0)  # after a bulk commit's bookkeeping, let others in
        if refused_at is not None:
            # The refused commit and everything staged after it may rest on what didn't hold.
            later = batch[refused_at:] + self._queue
            self._queue = []
            self._undo(later)
            await self._reread(later)  # before the callers hear of it: their retry must see what won
            self._fail(later, ConcurrentChange(
                "Another instance changed this meanwhile; nothing of this change was kept."))

    async def _transaction(self, batch: list[Pending]) -> tuple[list[tuple[Pending, int]], int | None]:
        """Write `batch` in one transaction: (what was written, the index of the first refused
        commit or None). A refusal rolls the whole transaction back (nothing was written).

        Commits that touch distinct rows go in one statement for the whole batch; if a row
        there doesn't match, or a row is changed by two commits of the batch, they go one
        statement per commit, which also finds the one refused."""
        if not batch:
            return [], None
        if _distinct_rows(batch):
            try:
                return await self._in_one_statement(batch), None
            except _Refused:
                pass  # find out which commit it was, one by one
        return await self._one_by_one(batch)

    async def _in_one_statement(self, batch: list[Pending]) -> list[tuple[Pending, int]]:
        async with self._pool.acquire() as connection, connection.transaction():
            versions = await self._begin(connection, len(batch))
            expected = [self._expected(pending, {}) for pending in batch]

            def build() -> list[_Statement]:
                rows = _Rows()
                for pending, version, read in zip(batch, versions, expected, strict=True):
                    rows.add(pending, version, read)
                return rows.statements()

            # A bulk change's rows (tens of thousands) are gathered off the loop; the pendings
            # and what they hold are not changed after staging.
            size = sum(len(p.changes) for p in batch)
            statements = await asyncio.to_thread(build) if size > BULK_ROWS else build()
            if not await write_statements(statements, connection, self._tenant_id, self._instance, self._channel):
                raise _Refused(0)
        self.transactions += 1
        return list(zip(batch, versions, strict=True))

    async def _one_by_one(self, batch: list[Pending]) -> tuple[list[tuple[Pending, int]], int | None]:
        written: list[tuple[Pending, int]] = []
        # Versions this transaction gave rows so far: a later commit of the batch rests on them.
        written_versions: dict[tuple[str, Any], int | None] = {}
        async with self._pool.acquire() as connection:
            try:
                async with connection.transaction():
                    versions = await self._begin(connection, len(batch))
                    for index, (pending, version) in enumerate(zip(batch, versions, strict=True)):
                        rows = _Rows()
                        expected = self._expected(pending, written_versions)
                        if len(pending.changes) > BULK_ROWS:  # a bulk commit's rows: off the loop
                            await asyncio.to_thread(rows.add, pending, version, expected)
                            statements = await asyncio.to_thread(rows.statements)
                        else:
                            rows.add(pending, version, expected)
                            statements = rows.statements()
                        if not await write_statements(statements, connection, self._tenant_id,
                                                      self._instance, self._channel):
                            raise _Refused(index)
                        written.append((pending, version))
                        for table, key, doc in pending.changes:
                            written_versions[(table, key)] = None if doc is None else version
            except _Refused as refused:
                return [], refused.index
        self.transactions += 1
        return written, None

    async def _begin(self, connection: asyncpg.Connection, count: int) -> list[int]:
        """Take the tenant's lock, then `count` versions (one round trip): within a tenant
        they rise in commit order."""
        versions: list[int] = await connection.fetchval(_BEGIN, self._tenant_id, count)
        return versions

    def _expected(self, pending: Pending, written_versions: dict[tuple[str, Any], int | None]) -> list[int | None]:
        """The version each row of `pending` rests on (a CHAINED one resolved)."""
        if not pending.chained:
            return pending.expected
        out: list[int | None] = []
        for (table, key, _), read in zip(pending.changes, pending.expected, strict=True):
            if read == CHAINED:
                read = (written_versions[(table, key)] if (table, key) in written_versions
                        else self._last_written.get(table, {}).get(key))
            out.append(read)
        return out

    def _track_written(self, pending: Pending, version: int | None) -> None:
        """After `pending` settled: forget rows nothing waits on any more; if it was written
        (at `version`), remember the version it gave each row a later local commit rests on
        (None: removed). One that failed leaves those as they were (it wrote nothing)."""
        touched: dict[str, set[Any]] = {}
        for table, key, _ in pending.single_changes:
            touched.setdefault(table, set()).add(key)
        if pending.run is not None:
            touched.setdefault(pending.run.table, set()).update(pending.run.key_set)
        gives = {(table, key): doc is not None for table, key, doc in pending.single_changes}
        for table, keys in touched.items():
            written = self._last_written.setdefault(table, {})
            for key in keys.intersection(written):  # a few: rows of commits that settled meanwhile
                del written[key]
            if version is None:
                continue
            for key in self._replica.unsettled_of(table, keys):  # a later local commit rests on this one
                written[key] = version if gives.get((table, key), True) else None

    def _undo(self, pendings: Sequence[Pending]) -> None:
        for pending in reversed(pendings):
            self._replica.undo(pending)

    def _settle(self, pending: Pending) -> None:
        self._replica.settled(pending)
        self._track_written(pending, None)

    def _fail(self, pendings: Sequence[Pending], error: Exception) -> None:
        for pending in pendings:
            self._settle(pending)
            if not pending.future.done():
                pending.future.set_exception(error)
                pending.future.exception()  # retrieved, so an abandoned waiter logs nothing

    async def _reread(self, pendings: Sequence[Pending]) -> None:
        """Re-read the rows refused commits touched, so the next attempt sees what won. The
        rows of a refused bulk commit (tens of thousands) are asked for and decoded off the
        loop, read in pages, and set in one step per table."""
        changes = [pending.changes for pending in pendings]
        many = sum(map(len, changes)) > BULK_ROWS

        def asked() -> tuple[list[tuple[str, Any]], str]:
            keys = list(dict.fromkeys((table, key) for each in changes for table, key, _ in each))
            return keys, orjson.dumps([[table, encode_key(key)] for table, key in keys]).decode()

        keys, argument = await asyncio.to_thread(asked) if many else asked()
        rows: list[tuple[str, str, str, int]] = []
        try:
            async with self._pool.acquire() as connection, connection.transaction(readonly=True):
                cursor = await connection.cursor(
                    "SELECT tbl, key, doc::text, version FROM documents WHERE tenant_id = $1 "
                    "AND (tbl, key) IN (SELECT r->>0, r->>1 FROM jsonb_array_elements($2::jsonb) AS r)",
                    self._tenant_id, argument)
                while page := await cursor.fetch(READ_PAGE):
                    rows += [(row[0], row[1], row[2], row[3]) for row in page]
        except DATABASE_ERRORS as error:
            log.warning("could not re-read %d rows of tenant %s after a conflict: %r", len(keys), self._tenant_id,
                        error)
            return

        def runs() -> list[FeedRun]:
            found = {(table, decode_key(key)): (version, text) for table, key, text, version in rows}
            by_table: dict[str, FeedRun] = {}
            for table, key in keys:
                version, text = found.get((table, key), (0, None))  # not there: removed (version unused)
                run = by_table.setdefault(table, FeedRun(table, [], [], []))
                run.keys.append(key)
                run.versions.append(version)
                run.docs.append(None if text is None else orjson.loads(text))
            return list(by_table.values())

        with self._bulk_work() if many else nullcontext():  # tens of thousands of new long-lived objects
            for run in await asyncio.to_thread(runs) if many else runs():
                self._replica.load_run(run)
        if many:
            self._after_bulk_load()

    async def close(self) -> None:
        """Write what is queued, then refuse more."""
        self._closed = True
        if self._task is not None:
            await asyncio.shield(self._task)


def _distinct_rows(batch: Sequence[Pending]) -> bool:
    """Whether no row is changed by two commits of `batch` (a bulk run's rows are distinct
    already, checked at staging: compared as whole sets, not row by row)."""
    single: set[tuple[str, Any]] = set()
    runs: list[BulkRun] = []
    count = 0
    for pending in batch:
        changes = pending.single_changes
        single.update((table, key) for table, key, _ in changes)
        count += len(changes)
        if pending.run is not None:
            runs.append(pending.run)
    if len(single) < count:
        return False
    for index, run in enumerate(runs):
        if not run.key_set.isdisjoint(key for table, key in single if table == run.table):
            return False
        if any(other.table == run.table and not run.key_set.isdisjoint(other.key_set) for other in runs[:index]):
            return False
    return True


class _Rows:
    """The rows one statement writes for one or more commits, each with its own version.

    Each row is kept as the JSON array the statement reads (`_WRITE`), so a statement's
    arguments are five JSON texts: sending them costs the event loop nothing per row
    (the driver's encoding of 50,000-element arrays held it for ~20 ms per 2,000 rows)."""

    def __init__(self) -> None:
        self.inserts: list[str] = []  # [table, key, doc, version]
        self.updates: list[str] = []  # [table, key, doc, version read, version]
        self.deletes: list[str] = []  # [table, key, version read]
        self.feed: list[str] = []  # [version, table, key, doc or null]
        self.audit: list[str] = []  # [mac or null, event]

    def add(self, pending: Pending, version: int, expected: Sequence[int | None]) -> None:
        for (table, key, _doc), text, read in zip(pending.changes, pending.texts, expected, strict=True):
            row = f"{_json(table)},{_json(encode_key(key))}"
            if text is not None and read is None:
                self.inserts.append(f"[{row},{text},{version}]")
            elif text is not None and read is not None:
                self.updates.append(f"[{row},{text},{read},{version}]")
            elif read is not None:
                self.deletes.append(f"[{row},{read}]")
            # Removing a row this copy never had: nothing to check or write.
            self.feed.append(f"[{version},{row},{'null' if text is None else text}]")
        self.audit += [f"[{_json(a.get('mac'))},{_json(a)}]" for a in pending.audit]

    def statements(self) -> list[_Statement]:
        """The rows in statements of at most `STATEMENT_ROWS` rows of each kind."""
        size = max(len(self.inserts), len(self.updates), len(self.deletes), len(self.feed), len(self.audit), 1)
        out: list[_Statement] = []
        for part in range(0, size, STATEMENT_ROWS):
            chunk = slice(part, part + STATEMENT_ROWS)
            inserts, updates, deletes = self.inserts[chunk], self.updates[chunk], self.deletes[chunk]
            out.append(_Statement((len(inserts), len(updates), len(deletes)), [
                _array(inserts), _array(updates), _array(deletes), _array(self.feed[chunk]),
                _array(self.audit[chunk])]))
        return out


class _Statement:
    """One `_WRITE`: its JSON arguments and the row counts it must report if every row matched."""

    def __init__(self, counts: tuple[int, int, int], arguments: list[str]) -> None:
        self.counts = counts
        self.arguments = arguments

    async def write(self, connection: asyncpg.Connection, tenant_id: str, instance: str, channel: str) -> bool:
        """False (nothing kept, once the transaction is rolled back) if a row one rests on
        changed since it was read."""
        inserts, updates, deletes, feed, audit = self.arguments
        row = await connection.fetchrow(_WRITE, tenant_id, inserts, updates, deletes, instance, feed, audit, channel)
        assert row is not None
        return (row[0], row[1], row[2]) == self.counts


async def write_statements(statements: Sequence[_Statement], connection: asyncpg.Connection, tenant_id: str,
                           instance: str, channel: str) -> bool:
    """Every statement in turn; False at the first whose rows didn't all match. Each also
    notifies the other instances (sent at commit, once per transaction; none if rolled back)."""
    for statement in statements:
        if not await statement.write(connection, tenant_id, instance, channel):
            return False
    return True


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _array(rows: list[str]) -> str:
    return "[" + ",".join(rows) + "]"


# One statement: every row added, changed or removed (each only if it still has the
# version its commit read), the changes for the feed and the audit events, each kind a
# JSON array of row arrays. The counts tell whether every row matched; if not, the
# transaction is rolled back.

_WRITE: Final = """
WITH ins AS (
    INSERT INTO documents (tenant_id, tbl, key, doc, version)
    SELECT $1, r->>0, r->>1, r->2, (r->>3)::int8 FROM jsonb_array_elements($2::jsonb) AS r
    ON CONFLICT DO NOTHING RETURNING 1
), upd AS (
    UPDATE documents SET doc = u.d, version = u.v
    FROM (SELECT r->>0 AS t, r->>1 AS k, r->2 AS d, (r->>3)::int8 AS e, (r->>4)::int8 AS v
          FROM jsonb_array_elements($3::jsonb) AS r) AS u
    WHERE documents.tenant_id = $1 AND documents.tbl = u.t AND documents.key = u.k AND documents.version = u.e
    RETURNING 1
), del AS (
    DELETE FROM documents
    USING (SELECT r->>0 AS t, r->>1 AS k, (r->>2)::int8 AS e FROM jsonb_array_elements($4::jsonb) AS r) AS u
    WHERE documents.tenant_id = $1 AND documents.tbl = u.t AND documents.key = u.k AND documents.version = u.e
    RETURNING 1
), feed AS (
    INSERT INTO changes (version, tenant_id, tbl, key, doc, instance)
    SELECT (r->>0)::int8, $1, r->>1, r->>2, nullif(r->3, 'null'::jsonb), $5 FROM jsonb_array_elements($6::jsonb) AS r
    RETURNING 1
), logged AS (
    INSERT INTO audit (tenant_id, mac, doc)
    SELECT $1, r->>0, r->1 FROM jsonb_array_elements($7::jsonb) AS r
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd), (SELECT count(*) FROM del),
       (SELECT count(*) FROM feed), (SELECT count(*) FROM logged), pg_notify($8, $1)
"""

# The tenant's lock, then the versions: the array is a subquery correlated with the lock's
# row, so PostgreSQL can only draw the versions once the lock is held.
_BEGIN: Final = """
SELECT ARRAY(SELECT nextval('change_versions') FROM generate_series(1, $2) WHERE locked.held IS NOT NULL)
FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))::text AS held) AS locked
"""
