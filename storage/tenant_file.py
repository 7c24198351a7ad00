"""One tenant's store: in-memory tables, their indexes, and the single writer.

Files: `<stem>.json` is a TinyDB database (`{table: {doc_id: doc}}`), the checkpoint;
`<stem>.wal` is the journal of batches since that checkpoint (see `journal.py`);
`<stem>.audit.jsonl` is the audit log (see `audit_log.py`). All are read once at open
through `LiveCache(AtomicJSONStorage)` plus a journal replay; after that the cache is
the live state and every read is a dict look-up: each table keeps an index from its
key (a device's MAC, a record's (kind, key)) to the TinyDB doc id. TinyDB's `Table`
API is not used for writes because its `_update_table` rebuilds the whole table's
key mapping on every call (O(n) per change); documents are changed in the cache
directly instead, in TinyDB's layout.

Writes (group commit):
- `stage` validates a change set, then applies it to memory at once and synchronously,
  so a check-then-commit with no await in between cannot interleave with another
  request, and queues it. Nothing is applied if validation fails.
- One writer task per tenant takes everything queued as one batch and, in a worker
  thread, appends the batch's audit lines (fsync), then either appends the batch to
  the journal (fsync) or, when the journal has grown past its limit, writes a
  checkpoint: a consistent copy of the tables (new dicts over immutable docs: a change
  replaces a doc, never edits it) is encoded and atomically replaces the TinyDB file,
  then the journal is emptied. Only then are the batch's waiters answered. Changes
  staged meanwhile form the next batch.
- If a flush fails, every change not yet durable (the failed batch and all staged
  after it, which may rest on it) is rolled back in reverse order and its waiter gets
  `StoreWriteFailed`, so memory equals the files again. A failed checkpoint falls back
  to a journal append (a full disk may still take a small one). A change reported as
  failed may still survive if the failure came after its bytes were on disk (a failed
  directory fsync); an acknowledged change always survives.
"""
from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson

from storage import audit_log, journal
from storage.atomic import ENCODE_CHUNK, AtomicJSONStorage, LiveCache, corrupt_message, truncate_file
from storage.errors import (
    InvalidCommit,
    StoreClosed,
    StoreCorrupt,
    StoreSchemaUnsupported,
    StoreWriteFailed,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
META_TABLE = "_meta"
META_DOC_ID = "1"
# The journal is folded into a checkpoint once it is larger than the TinyDB file (so
# disk use stays under about twice the data and replay at open costs about one more
# parse), and never before it reaches this size.
JOURNAL_MIN_BYTES = 4 * 1024 * 1024

# Bulk work (a load, a commit of thousands of devices) allocates long-lived containers
# by the hundred thousand; each allocation burst triggers full cyclic-GC passes over the
# whole heap (0.1 to 0.5 s each at 50,000 devices). Those containers hold no cycles, so
# bulk work pauses the collector instead.
GC_PAUSE_MIN = 1000

Doc = dict[str, Any]
Key = Hashable
# (table, key, new doc or None to delete)
Change = tuple[str, Key, Doc | None]
# (table, key, old doc, new doc): called on every in-memory change, rollbacks included
Listener = Callable[[str, Key, Doc | None, Doc | None], None]


@dataclass(frozen=True)
class TableSpec:
    """A table of the tenant file and how to find a document's key inside it."""

    name: str
    key_of: Callable[[Doc], Key]


@dataclass
class _Table:
    spec: TableSpec
    rows: dict[str, Doc]  # TinyDB layout: doc id (str) -> doc; the object in the cache
    ids: dict[Key, str] = field(default_factory=dict)  # key -> doc id
    next_id: int = 1


@dataclass
class _Staged:
    future: asyncio.Future[None]
    changes: list[tuple[str, Key, Doc | None]]
    undo: list[tuple[_Table, Key, str | None, Doc | None]]  # table, key, old doc id, old doc
    audit: bytes


@dataclass
class _Plan:
    """What one batch flush writes; built on the loop, carried out in a thread."""

    batch: int
    changes: list[tuple[str, Key, Doc | None]]
    audit_lines: bytes
    committed_audit: int
    committed_journal: int
    snapshot: dict[str, Any] | None  # set: write a checkpoint
    journal_allowed: bool  # False until a checkpoint exists: a journal alone can't stand


@dataclass
class _Outcome:
    audit_size: int
    journal_size: int
    checkpoint_size: int | None = None  # set when a checkpoint was written
    checkpoint_failed: bool = False


class TenantFile:
    """A tenant's tables in memory, durable through one group-committing writer."""

    def __init__(
        self,
        tenant_id: str | None,
        path: Path,
        journal_path: Path,
        audit_path: Path,
        specs: Sequence[TableSpec],
        journal_min_bytes: int = JOURNAL_MIN_BYTES,
    ) -> None:
        self.tenant_id = tenant_id
        self.path = path
        self.journal_path = journal_path
        self.audit_path = audit_path
        self.journal_min_bytes = journal_min_bytes
        self._cache = LiveCache(AtomicJSONStorage)(path)
        self._tables: dict[str, _Table] = {}
        self._specs = list(specs)
        self._listeners: list[Listener] = []
        self._pending: list[_Staged] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._batch = 0  # number of the last batch flushed (failed ones burn theirs)
        self._audit_size = 0
        self._journal_size = 0
        self._checkpoint_size: int | None = None  # None: no TinyDB file yet
        self._checkpoint_retry_at = 0  # journal size to reach before retrying a failed checkpoint
        self._checkpoint_requested = False
        self.flush_count = 0  # durable batches since open (tests, benchmarks)
        self.checkpoint_count = 0

    # -- opening ---------------------------------------------------------------------

    def load(self) -> None:
        """Parse the file once (if it exists), replay the journal, build the indexes.

        Blocking: run it in a thread. With `tenant_id` None the file must exist and
        names its tenant. Raises `StoreCorrupt` naming the file; nothing is written
        unless the tenant's files all check out, and then only a torn journal or audit
        tail (an unacknowledged write) is cut.
        """
        with gc_paused(GC_PAUSE_MIN):
            self._load()

    def _load(self) -> None:
        data = self._cache.storage.read()
        meta = None if data is None else self._check_meta(data)
        if data is None:
            if self.tenant_id is None:
                self.raise_corrupt("the file is missing")
            if journal.scan(self.journal_path).size:
                self.raise_corrupt("its journal exists without it; move the journal aside too", self.journal_path)
            data = {}
        self._cache.write(data)
        for spec in self._specs:
            rows = data.setdefault(spec.name, {})
            if not isinstance(rows, dict):
                self.raise_corrupt(f"table {spec.name!r} is not an object")
            self._tables[spec.name] = self._index(spec, rows)
        committed_audit: int | None = None
        if meta is not None:
            self._batch = int(meta.get("batch", 0))
            committed_audit = meta.get("audit_size") if isinstance(meta.get("audit_size"), int) else None
            self._checkpoint_size = self.path.stat().st_size
        scan = self._replay()
        if scan.records and scan.records[-1].batch == self._batch:
            committed_audit = scan.records[-1].audit_size
        if scan.size > scan.valid_end:
            truncate_file(self.journal_path, scan.valid_end)
        self._journal_size = scan.valid_end
        if committed_audit is not None:
            truncate_file(self.audit_path, committed_audit)
        self._audit_size = audit_log.size_of(self.audit_path)

    def _check_meta(self, data: dict[str, Any]) -> dict[str, Any]:
        table = data.get(META_TABLE)
        meta = table.get(META_DOC_ID) if isinstance(table, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
            self.raise_corrupt("no schema_version in its _meta table (not a provisioning-bot store file)")
        if meta["schema_version"] > SCHEMA_VERSION:
            raise StoreSchemaUnsupported(
                f"The store file {self.path} was written by a newer provisioning-bot (schema "
                f"{meta['schema_version']}; this version reads up to {SCHEMA_VERSION}). It was "
                f"left untouched. Upgrade provisioning-bot, or restore a backup made by this version.",
                str(self.path),
            )
        if self.tenant_id is None and isinstance(meta.get("tenant_id"), str):
            self.tenant_id = meta["tenant_id"]
        if meta.get("tenant_id") != self.tenant_id:
            self.raise_corrupt(f"it holds tenant {meta.get('tenant_id')!r}, not {self.tenant_id!r}")
        return meta

    def _index(self, spec: TableSpec, rows: dict[str, Any]) -> _Table:
        table = _Table(spec, rows)
        highest = 0
        for doc_id, doc in rows.items():
            try:
                number = int(doc_id)
                key = spec.key_of(doc)
            except (ValueError, TypeError, KeyError) as exc:
                self.raise_corrupt(f"document {doc_id!r} of table {spec.name!r} is malformed ({exc!r})")
            if key in table.ids:
                self.raise_corrupt(f"table {spec.name!r} holds {key!r} twice")
            table.ids[key] = doc_id
            highest = max(highest, number)
        table.next_id = highest + 1
        return table

    def _replay(self) -> journal.Scan:
        """Apply the journal's batches newer than the checkpoint, in order."""
        try:
            scan = journal.scan(self.journal_path)
        except journal.JournalDamaged as exc:
            self.raise_corrupt(str(exc), self.journal_path)
        previous = -1
        for record in scan.records:
            if record.batch <= previous:
                self.raise_corrupt(f"batch {record.batch} follows batch {previous}", self.journal_path)
            previous = record.batch
            if record.batch <= self._batch:
                continue  # already in the checkpoint (a crash came before the journal was emptied)
            # A gap is a batch that failed: its number was never reused, its bytes were cut.
            for change in record.changes:
                self._replay_change(change)
            self._batch = record.batch
        return scan

    def _replay_change(self, change: Any) -> None:
        try:
            name, raw_key, doc = change
            table = self._tables[name]
            key = table.spec.key_of(doc) if doc is not None else (tuple(raw_key) if isinstance(raw_key, list) else raw_key)
        except (ValueError, TypeError, KeyError) as exc:
            self.raise_corrupt(f"a journal entry is malformed ({exc!r})", self.journal_path)
        self._set(table, key, None, doc)

    def raise_corrupt(self, reason: str, path: Path | None = None) -> NoReturn:
        bad = path or self.path
        message = corrupt_message(bad, reason, [self.path, self.journal_path])
        raise StoreCorrupt(message, str(bad))

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # -- reads (memory only) ---------------------------------------------------------

    def get(self, table: str, key: Key) -> Doc | None:
        t = self._tables[table]
        doc_id = t.ids.get(key)
        return None if doc_id is None else t.rows[doc_id]

    def items(self, table: str) -> Iterator[tuple[Key, Doc]]:
        t = self._tables[table]
        rows = t.rows
        return ((key, rows[doc_id]) for key, doc_id in t.ids.items())

    def keys(self, table: str) -> list[Key]:
        return list(self._tables[table].ids)

    def count(self, table: str) -> int:
        return len(self._tables[table].ids)

    @property
    def audit_size(self) -> int:
        """Length of the audit file's acknowledged part."""
        return self._audit_size

    # -- writes ----------------------------------------------------------------------

    async def commit(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> None:
        """Stage `changes` now, then return once they are durable (see `stage`)."""
        future = self.stage(changes, audit)
        # Shielded: a cancelled request must not cancel the batch others wait on.
        await asyncio.shield(future)

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False) -> asyncio.Future[None]:
        """Apply `changes` to memory now and queue them; the future resolves when durable.

        Validates everything first (known tables, keys matching docs, no key twice,
        JSON-encodable docs and audit events) and raises `InvalidCommit` without
        applying anything. Stored docs are private copies, so callers may keep editing
        theirs, unless `owned`: then the caller hands over fresh docs (lists, not tuples)
        that nobody will touch again, and the copy (most of a bulk commit's cost) is
        skipped. An empty change set resolves at once.
        """
        if self._closed:
            raise StoreClosed("The store is closed; the change was not made.")
        loop = asyncio.get_running_loop()
        with gc_paused(len(changes)):
            prepared = self._prepare(changes, owned)
        audit_lines = _encode_audit(audit)
        future: asyncio.Future[None] = loop.create_future()
        if not prepared and not audit_lines:
            future.set_result(None)
            return future
        undo = [self._apply(table, key, doc) for table, key, doc in prepared]
        named = [(table.spec.name, key, doc) for table, key, doc in prepared]
        self._pending.append(_Staged(future, named, undo, audit_lines))
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches(), name=f"store-writer-{self.path.name}")
        return future

    def _prepare(self, changes: Sequence[Change], owned: bool) -> list[tuple[_Table, Key, Doc | None]]:
        seen: set[tuple[str, Key]] = set()
        out: list[tuple[_Table, Key, Doc | None]] = []
        docs: list[Doc] = []
        for name, key, doc in changes:
            table = self._tables.get(name)
            if table is None:
                raise InvalidCommit(f"There is no table {name!r} in the store.")
            if (name, key) in seen:
                raise InvalidCommit(f"{key!r} appears twice in one commit to {name!r}; the change was not made.")
            seen.add((name, key))
            if doc is not None:
                if not isinstance(doc, dict):
                    raise InvalidCommit(f"The document for {key!r} in {name!r} is not a JSON object.")
                try:
                    own_key = table.spec.key_of(doc)
                except (KeyError, TypeError) as exc:
                    raise InvalidCommit(f"The document for {key!r} in {name!r} has no key ({exc!r}).") from exc
                if own_key != key:
                    raise InvalidCommit(f"The document for {key!r} in {name!r} carries the key {own_key!r}.")
                docs.append(doc)
            out.append((table, key, doc))
        copies = iter(_checked(docs) if owned else _private_copies(docs))
        return [(table, key, None if doc is None else next(copies)) for table, key, doc in out]

    def _apply(self, table: _Table, key: Key, doc: Doc | None) -> tuple[_Table, Key, str | None, Doc | None]:
        old_id = table.ids.get(key)
        old_doc = None if old_id is None else table.rows[old_id]
        self._set(table, key, old_id, doc)
        return table, key, old_id, old_doc

    def _set(self, table: _Table, key: Key, doc_id: str | None, doc: Doc | None) -> None:
        """Put `doc` (or nothing) under `key`, reusing `doc_id` when given; tell listeners."""
        current_id = table.ids.get(key)
        old_doc = None if current_id is None else table.rows[current_id]
        if doc is None:
            if current_id is not None:
                del table.rows[current_id]
                del table.ids[key]
        else:
            if current_id is None:
                if doc_id is None:
                    doc_id = str(table.next_id)
                    table.next_id += 1
                table.ids[key] = doc_id
                current_id = doc_id
            table.rows[current_id] = doc
        for listener in self._listeners:
            listener(table.spec.name, key, old_doc, doc)

    async def _write_batches(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    plan = self._plan(batch)
                except Exception as exc:  # never leave a waiter hanging
                    self._fail(batch + self._pending, exc)
                    self._pending = []
                    continue
                flush = asyncio.ensure_future(asyncio.to_thread(self._flush, plan))
                try:
                    await asyncio.shield(flush)
                except asyncio.CancelledError:
                    # The loop is shutting down: let the thread finish so memory and files agree.
                    await asyncio.wait([flush])
                    self._settle(batch, flush)
                    raise
                except Exception:
                    pass  # settled below
                self._settle(batch, flush)
        finally:
            self._writer = None

    def _plan(self, batch: list[_Staged]) -> _Plan:
        changes = [change for staged in batch for change in staged.changes]
        plan = _Plan(
            batch=self._batch + 1,
            changes=changes,
            audit_lines=b"".join(staged.audit for staged in batch),
            committed_audit=self._audit_size,
            committed_journal=self._journal_size,
            snapshot=None,
            journal_allowed=self._checkpoint_size is not None,
        )
        if self._wants_checkpoint(len(changes)):
            plan.snapshot = self._snapshot(plan.batch)
        return plan

    def request_checkpoint(self) -> None:
        """Have the next batch rewrite the TinyDB file (say, before a file-level backup)."""
        self._checkpoint_requested = True

    def _wants_checkpoint(self, change_count: int) -> bool:
        if self._checkpoint_size is None or self._checkpoint_requested:
            return True
        if self._journal_size < self._checkpoint_retry_at:
            return False
        limit = max(self.journal_min_bytes, self._checkpoint_size)
        # A batch rewriting much of the table (bulk code issue) is cheaper as a checkpoint.
        bulk = change_count >= max(ENCODE_CHUNK, sum(len(t.ids) for t in self._tables.values()) // 4)
        return self._journal_size >= limit or bulk

    def _snapshot(self, batch: int) -> dict[str, Any]:
        """A consistent copy for the writer thread: new table dicts over immutable docs."""
        tables: dict[str, Any] = {name: dict(rows) for name, rows in self._cache.read().items() if name != META_TABLE}
        meta = {"schema_version": SCHEMA_VERSION, "tenant_id": self.tenant_id, "batch": batch}
        tables[META_TABLE] = {META_DOC_ID: meta}
        return tables

    def _flush(self, plan: _Plan) -> _Outcome:
        """Make one batch durable (worker thread)."""
        audit_size = plan.committed_audit
        try:
            if plan.audit_lines:
                audit_size = audit_log.append(self.audit_path, plan.committed_audit, plan.audit_lines)
            checkpoint_failed = False
            if plan.snapshot is not None:
                try:
                    return self._checkpoint(plan.snapshot, audit_size, plan.committed_journal)
                except OSError:
                    if not plan.journal_allowed:
                        raise
                    log.warning("checkpoint of %s failed; the batch goes to the journal", self.path, exc_info=True)
                    checkpoint_failed = True
            record = journal.encode_record(plan.batch, audit_size, plan.changes)
            journal_size = journal.append(self.journal_path, plan.committed_journal, record)
            return _Outcome(audit_size, journal_size, checkpoint_failed=checkpoint_failed)
        except BaseException:
            try:
                truncate_file(self.audit_path, plan.committed_audit)
                truncate_file(self.journal_path, plan.committed_journal)
            except OSError:
                log.exception("could not cut an unacknowledged batch's bytes from %s", self.path.name)
            raise

    def _checkpoint(self, snapshot: dict[str, Any], audit_size: int, committed_journal: int) -> _Outcome:
        snapshot[META_TABLE][META_DOC_ID]["audit_size"] = audit_size
        self._cache.write_snapshot(snapshot)
        size = self.path.stat().st_size
        try:
            journal.reset(self.journal_path)
        except OSError:
            # Harmless: the journal's batches are all in the checkpoint and skipped at replay.
            log.warning("could not empty the journal %s", self.journal_path, exc_info=True)
            return _Outcome(audit_size, committed_journal, checkpoint_size=size)
        return _Outcome(audit_size, 0, checkpoint_size=size)

    def _settle(self, batch: list[_Staged], flush: asyncio.Future[_Outcome]) -> None:
        """Answer a batch's waiters once its flush has ended, one way or the other."""
        # A failed batch's number is not reused: its checkpoint may have reached the disk
        # even though the flush failed, and a later batch must replay on top of it.
        self._batch += 1
        if flush.cancelled() or flush.exception() is not None:
            self._fail(batch + self._pending, None if flush.cancelled() else flush.exception())
            self._pending = []
            return
        outcome = flush.result()
        self.flush_count += 1
        self._audit_size = outcome.audit_size
        self._journal_size = outcome.journal_size
        if outcome.checkpoint_size is not None:
            self._checkpoint_size = outcome.checkpoint_size
            self._checkpoint_requested = False
            self.checkpoint_count += 1
        if outcome.checkpoint_failed:
            self._checkpoint_retry_at = self._journal_size + self.journal_min_bytes
        for staged in batch:
            if not staged.future.done():
                staged.future.set_result(None)

    def _fail(self, staged_list: list[_Staged], exc: BaseException | None) -> None:
        log.error("store flush of %s failed; %d change sets rolled back: %r", self.path.name, len(staged_list), exc)
        for staged in reversed(staged_list):
            for table, key, old_id, old_doc in reversed(staged.undo):
                self._set(table, key, old_id, old_doc)
        error = StoreWriteFailed(
            f"The change could not be saved to {self.path} ({exc!r}); nothing of it was kept. "
            "Check free disk space and permissions of the data directory, then try again."
        )
        for staged in staged_list:
            if not staged.future.done():
                staged.future.set_exception(error)
                # Retrieved here so an abandoned waiter does not log "never retrieved".
                staged.future.exception()

    # -- closing ---------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until everything staged so far is durable (or has failed)."""
        while self._writer is not None:
            await asyncio.wait([self._writer])

    async def close(self) -> None:
        """Refuse new commits, finish the pending ones, fold the journal into the file.

        After a clean close the TinyDB file alone holds everything (handy for backups and
        inspection); if that last checkpoint fails, the journal still holds it all.
        """
        self._closed = True
        await self.drain()
        if self._journal_size and self._checkpoint_size is not None:
            snapshot = self._snapshot(self._batch + 1)
            try:
                await asyncio.to_thread(self._checkpoint, snapshot, self._audit_size, self._journal_size)
                self._batch += 1
                self._journal_size = 0
            except OSError:
                log.warning("final checkpoint of %s failed; its journal keeps the changes", self.path, exc_info=True)
        self._cache.storage.close()


@contextmanager
def gc_paused(work_items: int) -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk, cycle-free allocation (see GC_PAUSE_MIN)."""
    if work_items < GC_PAUSE_MIN or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def json_copy(value: Any) -> Any:
    """A deep copy through JSON; `InvalidCommit` if `value` cannot be stored."""
    return orjson.loads(_encoded([value]))[0]


def _private_copies(docs: list[Doc]) -> list[Doc]:
    """Deep copies normalised through JSON, checking every doc is encodable (one call)."""
    return orjson.loads(_encoded(docs)) if docs else []


def _checked(docs: list[Doc]) -> list[Doc]:
    """The docs themselves, once known to be encodable (so a flush cannot fail on them)."""
    if docs:
        _encoded(docs)
    return docs


def _encoded(docs: list[Any]) -> bytes:
    try:
        return orjson.dumps(docs)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidCommit(f"A document cannot be stored as JSON ({exc}); the change was not made.") from exc


def _encode_audit(events: Sequence[Mapping[str, Any]]) -> bytes:
    try:
        return b"".join(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE) for event in events)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidCommit(f"An audit event cannot be stored as JSON ({exc}); the change was not made.") from exc
