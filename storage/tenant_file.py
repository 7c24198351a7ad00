"""One tenant's store file: in-memory tables, their indexes, and the single writer.

The file is a TinyDB database (`{table: {doc_id: doc}}`) read once at open through
`LiveCache(AtomicJSONStorage)`. After that the cache is the live state and every read
is a dict look-up: each table keeps an index from its key (a device's MAC, a record's
(kind, key)) to the TinyDB doc id. TinyDB's `Table` API is not used for writes because
its `_update_table` rebuilds the whole table's key mapping on every call (O(n) per
change); the documents are changed in the cache directly instead, in TinyDB's layout.

Writes (group commit):
- `stage` validates a change set, then applies it to memory at once and synchronously,
  so a check-then-commit with no await in between cannot interleave with another
  request, and queues it. Nothing is applied if validation fails.
- One writer task per file takes everything queued, shallow-copies the tables (docs are
  immutable: a change replaces a doc, never edits it), and in a worker thread appends
  the batch's audit lines, encodes the snapshot and replaces the file atomically. Then
  it answers every waiter of the batch. Changes staged meanwhile form the next batch.
- If a flush fails, every change not yet durable (the failed batch and all staged
  after it, which may rest on it) is rolled back in reverse order and its waiter gets
  `StoreWriteFailed`, so memory equals the file again. Such a change may still be on
  disk if the failure came after the rename (a failed directory fsync); an
  acknowledged change is always on disk.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson

from storage import audit_log
from storage.atomic import AtomicJSONStorage, LiveCache, corrupt_message
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
    undo: list[tuple[_Table, Key, str | None, Doc | None]]  # table, key, old doc id, old doc
    audit: bytes


class TenantFile:
    """A tenant's tables in memory, durable through one group-committing writer."""

    def __init__(
        self,
        tenant_id: str | None,
        path: Path,
        audit_path: Path,
        specs: Sequence[TableSpec],
    ) -> None:
        self.tenant_id = tenant_id
        self.path = path
        self.audit_path = audit_path
        self._cache = LiveCache(AtomicJSONStorage)(path)
        self._tables: dict[str, _Table] = {}
        self._specs = list(specs)
        self._listeners: list[Listener] = []
        self._pending: list[_Staged] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._batch = 0
        self._audit_size = 0
        self.flush_count = 0  # durable batches written since open (tests, benchmarks)

    # -- opening ---------------------------------------------------------------------

    def load(self) -> None:
        """Parse the file once (if it exists), check it and build the indexes.

        With `tenant_id` None the file must exist and names its tenant (meta.tenant_id).

        Blocking: run it in a thread. Raises `StoreCorrupt` naming the file; the file
        is never written or moved here.
        """
        data = self._cache.storage.read()
        meta = None if data is None else self._check_meta(data)
        if data is None:
            if self.tenant_id is None:
                self._corrupt("the file is missing")
            data = {}
        self._cache.write(data)
        for spec in self._specs:
            rows = data.setdefault(spec.name, {})
            if not isinstance(rows, dict):
                self._corrupt(f"table {spec.name!r} is not an object")
            self._tables[spec.name] = self._index(spec, rows)
        if meta is not None:
            self._batch = int(meta.get("batch", 0))
            committed = meta.get("audit_size")
            if isinstance(committed, int):
                audit_log.truncate_to(self.audit_path, committed)
        self._audit_size = audit_log.size_of(self.audit_path)

    def _check_meta(self, data: dict[str, Any]) -> dict[str, Any]:
        meta = data.get(META_TABLE, {}).get(META_DOC_ID) if isinstance(data.get(META_TABLE), dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
            self._corrupt("no schema_version in its _meta table (not a provisioning-bot store file)")
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
            self._corrupt(f"it holds tenant {meta.get('tenant_id')!r}, not {self.tenant_id!r}")
        return meta

    def _index(self, spec: TableSpec, rows: dict[str, Any]) -> _Table:
        table = _Table(spec, rows)
        highest = 0
        for doc_id, doc in rows.items():
            try:
                number = int(doc_id)
                key = spec.key_of(doc)
            except (ValueError, TypeError, KeyError) as exc:
                self._corrupt(f"document {doc_id!r} of table {spec.name!r} is malformed ({exc!r})")
            if key in table.ids:
                self._corrupt(f"table {spec.name!r} holds {key!r} twice")
            table.ids[key] = doc_id
            highest = max(highest, number)
        table.next_id = highest + 1
        return table

    def _corrupt(self, reason: str) -> NoReturn:
        raise StoreCorrupt(corrupt_message(self.path, reason), str(self.path))

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

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> asyncio.Future[None]:
        """Apply `changes` to memory now and queue them; the future resolves when durable.

        Validates everything first (known tables, keys matching docs, no key twice,
        JSON-encodable docs and audit events) and raises `InvalidCommit` without
        applying anything. Stored docs are private copies, so callers may keep editing
        theirs.
        """
        if self._closed:
            raise StoreClosed("The store is closed; the change was not made.")
        loop = asyncio.get_running_loop()
        prepared = self._prepare(changes)
        audit_lines = _encode_audit(audit)
        future: asyncio.Future[None] = loop.create_future()
        if not prepared and not audit_lines:
            future.set_result(None)
            return future
        undo = [self._apply(table, key, doc) for table, key, doc in prepared]
        self._pending.append(_Staged(future, undo, audit_lines))
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches(), name=f"store-writer-{self.path.name}")
        return future

    def _prepare(self, changes: Sequence[Change]) -> list[tuple[_Table, Key, Doc | None]]:
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
        copies = iter(_private_copies(docs))
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
                snapshot = self._snapshot()
                audit_lines = b"".join(staged.audit for staged in batch)
                flush = asyncio.ensure_future(
                    asyncio.to_thread(self._flush, snapshot, audit_lines, self._audit_size)
                )
                try:
                    self._audit_size = await asyncio.shield(flush)
                except asyncio.CancelledError:
                    # The loop is shutting down: let the thread finish so memory and file agree.
                    await asyncio.wait([flush])
                    self._settle(batch, flush)
                    raise
                except Exception:
                    self._settle(batch, flush)
                    continue
                self._batch += 1
                self.flush_count += 1
                for staged in batch:
                    if not staged.future.done():
                        staged.future.set_result(None)
        finally:
            self._writer = None

    def _settle(self, batch: list[_Staged], flush: asyncio.Future[int]) -> None:
        """Resolve a batch whose flush raised or was interrupted."""
        if not flush.cancelled() and flush.exception() is None:
            self._audit_size = flush.result()
            self._batch += 1
            self.flush_count += 1
            for staged in batch:
                if not staged.future.done():
                    staged.future.set_result(None)
            return
        exc = flush.exception() if not flush.cancelled() else asyncio.CancelledError()
        self._fail(batch + self._pending, exc)
        self._pending = []

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

    def _snapshot(self) -> dict[str, Any]:
        """A consistent copy for the writer thread: new table dicts over immutable docs."""
        tables: dict[str, Any] = {name: dict(rows) for name, rows in self._cache.read().items() if name != META_TABLE}
        meta = {"schema_version": SCHEMA_VERSION, "tenant_id": self.tenant_id, "batch": self._batch + 1}
        tables[META_TABLE] = {META_DOC_ID: meta}
        return tables

    def _flush(self, snapshot: dict[str, Any], audit_lines: bytes, committed_audit: int) -> int:
        """Write one batch durably (worker thread). Returns the audit file's new length."""
        audit_size = committed_audit
        try:
            if audit_lines:
                audit_size = audit_log.append(self.audit_path, committed_audit, audit_lines)
            snapshot[META_TABLE][META_DOC_ID]["audit_size"] = audit_size
            self._cache.write_snapshot(snapshot)
        except BaseException:
            if audit_lines:
                try:
                    audit_log.truncate_to(self.audit_path, committed_audit)
                except OSError:
                    log.exception("could not cut unacknowledged events from %s", self.audit_path)
            raise
        return audit_size

    # -- closing ---------------------------------------------------------------------

    async def drain(self) -> None:
        """Wait until everything staged so far is durable (or has failed)."""
        while self._writer is not None:
            await asyncio.wait([self._writer])

    async def close(self) -> None:
        """Refuse new commits, finish the pending ones, release the file."""
        self._closed = True
        await self.drain()
        self._cache.storage.close()


def _private_copies(docs: list[Doc]) -> list[Doc]:
    """Deep copies normalised through JSON, checking every doc is encodable (one call)."""
    if not docs:
        return []
    try:
        return orjson.loads(orjson.dumps(docs))
    except (TypeError, orjson.JSONEncodeError):
        for doc in docs:
            try:
                orjson.dumps(doc)
            except (TypeError, orjson.JSONEncodeError) as exc:
                raise InvalidCommit(f"A document cannot be stored as JSON ({exc}); the change was not made.") from exc
        raise


def _encode_audit(events: Sequence[Mapping[str, Any]]) -> bytes:
    try:
        return b"".join(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE) for event in events)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidCommit(f"An audit event cannot be stored as JSON ({exc}); the change was not made.") from exc
