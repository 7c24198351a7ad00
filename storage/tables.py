"""One tenant's tables in memory: loaded once, indexed, changed with an undo record.

Files: `<stem>.json` is a TinyDB database (`{table: {doc_id: doc}}`), the checkpoint;
`<stem>.wal` is the journal of batches since that checkpoint (see `journal.py`);
`<stem>.audit.jsonl` is the audit log (see `audit_log.py`). All are read once at open
(`TenantTables.load`) through `LiveCache(AtomicJSONStorage)` plus a journal replay;
after that the cache is the live state and every read is a dict look-up: each table
keeps an index from its key (a device's MAC, a record's (kind, key)) to the TinyDB doc
id. TinyDB's `Table` API is not used for writes because its `_update_table` rebuilds
the whole table's key mapping on every call (O(n) per change); documents are changed in
the cache directly instead, in TinyDB's layout.

Changes come in two steps so nothing half-applies: `prepare` validates a whole change
set (known tables, keys matching docs, no key twice, JSON-encodable docs) and raises
`InvalidCommit` before anything is touched; `apply` then changes memory at once and
returns the undo record that `undo` replays in reverse. Documents are immutable once
stored (a change replaces a doc, never edits it), so `snapshot` can hand the writer a
consistent copy that is only new table dicts over the same docs. Making changes durable
is the group-commit writer's job (`group_commit.py`).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import orjson

from storage import audit_log, journal
from storage.atomic import AtomicJSONStorage, LiveCache, corrupt_message, encode_list, truncate_file
from storage.errors import InvalidCommit, StoreCorrupt, StoreSchemaUnsupported

SCHEMA_VERSION = 1
META_TABLE = "_meta"
META_DOC_ID = "1"

Doc = dict[str, Any]
Key = Hashable
# (table, key, new doc or None to delete)
Change = tuple[str, Key, Doc | None]
# One table's changes in order: (table, keys, new docs or None to delete); no key twice.
Run = tuple[str, list[Key], list["Doc | None"]]
# (table, keys, old docs, new docs): called on every in-memory change, rollbacks included,
# once per run of changes to one table (a bulk commit of 50,000 devices is one call).
Listener = Callable[[str, list[Key], list["Doc | None"], list["Doc | None"]], None]


@dataclass(frozen=True)
class TableSpec:
    """A table of the tenant file, how to find a document's key inside it, and optionally
    how to check a loaded document: `check` raises `ValueError` saying what is wrong."""

    name: str
    key_of: Callable[[Doc], Key]
    check: Callable[[Doc], object] | None = None


@dataclass
class Table:
    spec: TableSpec
    rows: dict[str, Doc]  # TinyDB layout: doc id (str) -> doc; the object in the cache
    ids: dict[Key, str] = field(default_factory=dict)  # key -> doc id
    next_id: int = 1


# Validated changes to one table: the table itself, the keys, the docs to store (private
# copies, or handed over) or None.
Prepared = tuple[Table, list[Key], list[Doc | None]]
# What `apply` replaced in one table: table, keys, old doc ids, old docs.
Undo = tuple[Table, list[Key], list[str | None], list[Doc | None]]


@dataclass(frozen=True)
class FilesAtOpen:
    """Where the tenant's files stood once loaded: what the writer carries on from."""

    batch: int  # the last batch in the checkpoint or the journal
    checkpoint_size: int | None  # None: no TinyDB file yet
    journal_size: int  # its valid part (a torn tail was cut)
    audit_size: int  # the acknowledged part (an unacknowledged tail was cut)


class TenantTables:
    """A tenant's tables in memory, with indexes by key; reads never touch the disk."""

    def __init__(
        self, tenant_id: str | None, path: Path, journal_path: Path, audit_path: Path, specs: Sequence[TableSpec]
    ) -> None:
        self.tenant_id = tenant_id
        self.path = path
        self.journal_path = journal_path
        self.audit_path = audit_path
        self._cache = LiveCache(AtomicJSONStorage)(path)
        self._tables: dict[str, Table] = {}
        self._specs = list(specs)
        self._listeners: list[Listener] = []

    # -- opening ---------------------------------------------------------------------

    def load(self) -> FilesAtOpen:
        """Parse the file once (if it exists), replay the journal, build the indexes.

        Blocking: run it in a thread. With `tenant_id` None the file must exist and
        names its tenant. Raises `StoreCorrupt` naming the file; nothing is written
        unless the tenant's files all check out, and then only a torn journal or audit
        tail (an unacknowledged write) is cut.
        """
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
        batch = 0
        checkpoint_size: int | None = None
        committed_audit: int | None = None
        if meta is not None:
            batch = int(meta.get("batch", 0))
            audit_size = meta.get("audit_size")
            committed_audit = audit_size if isinstance(audit_size, int) else None
            checkpoint_size = self.path.stat().st_size
        scan, batch = self._replay(batch)
        self._check_documents()
        if scan.records and scan.records[-1].batch == batch:
            committed_audit = scan.records[-1].audit_size
        if scan.size > scan.valid_end:
            truncate_file(self.journal_path, scan.valid_end)
        if committed_audit is not None:
            truncate_file(self.audit_path, committed_audit)
        return FilesAtOpen(batch, checkpoint_size, scan.valid_end, audit_log.size_of(self.audit_path))

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

    def _index(self, spec: TableSpec, rows: dict[str, Any]) -> Table:
        table = Table(spec, rows)
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

    def _check_documents(self) -> None:
        """Every document as loaded (checkpoint and journal together) passes its table's check."""
        for table in self._tables.values():
            check = table.spec.check
            if check is None:
                continue
            rows = table.rows
            for key, doc_id in table.ids.items():
                try:
                    check(rows[doc_id])
                except ValueError as exc:
                    self.raise_corrupt(f"{table.spec.name} document {doc_id} ({key}) is not valid: {exc}")

    def _replay(self, checkpoint_batch: int) -> tuple[journal.Scan, int]:
        """Apply the journal's batches newer than the checkpoint, in order; return the
        scan and the last batch now in memory."""
        try:
            scan = journal.scan(self.journal_path)
        except journal.JournalDamaged as exc:
            self.raise_corrupt(str(exc), self.journal_path)
        batch = checkpoint_batch
        previous = -1
        for record in scan.records:
            if record.batch <= previous:
                self.raise_corrupt(f"batch {record.batch} follows batch {previous}", self.journal_path)
            previous = record.batch
            if record.batch <= batch:
                continue  # already in the checkpoint (a crash came before the journal was emptied)
            # A gap is a batch that failed: its number was never reused, its bytes were cut.
            for change in record.changes:
                self._replay_change(change)
            batch = record.batch
        return scan, batch

    def _replay_change(self, change: Any) -> None:
        try:
            name, raw_key, doc = change
            table = self._tables[name]
            key = (
                table.spec.key_of(doc)
                if doc is not None
                else (tuple(raw_key) if isinstance(raw_key, list) else raw_key)
            )
        except (ValueError, TypeError, KeyError) as exc:
            self.raise_corrupt(f"a journal entry is malformed ({exc!r})", self.journal_path)
        self._put(table, key, None, doc)

    def raise_corrupt(self, reason: str, path: Path | None = None) -> NoReturn:
        bad = path or self.path
        message = corrupt_message(bad, reason, [self.path, self.journal_path])
        raise StoreCorrupt(message, str(bad))

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def specs(self) -> dict[str, TableSpec]:
        """The tables' specs by name (fixed at construction: safe to read from any thread)."""
        return {spec.name: spec for spec in self._specs}

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

    def held(self, table: str, keys: Sequence[Any]) -> list[Any]:
        ids = self._tables[table].ids
        return [key for key in keys if key in ids]

    def document_count(self) -> int:
        """Documents in all tables together."""
        return sum(len(t.ids) for t in self._tables.values())

    # -- changes ---------------------------------------------------------------------

    def prepare(self, changes: Sequence[Change], owned: bool, bulk: Run | None = None) -> list[Prepared]:
        """Validate a whole change set; `InvalidCommit` with nothing touched if any is bad.

        Stored docs are private copies, so callers may keep editing theirs, unless
        `owned`: then the caller hands over fresh docs (lists, not tuples) that nobody
        will touch again, and the copy (most of a bulk commit's cost) is skipped.
        `bulk`: one table's changes, docs handed over, already checked off the event loop
        (`check_off_loop`): only its table is looked up here, so staging a bulk commit
        costs what applying it to memory costs. Its keys must not be among `changes`.
        """
        out: list[tuple[Table, Key, Doc | None]] = []
        docs: list[Doc] = []
        for name, key, doc in check_changes({n: t.spec for n, t in self._tables.items()}, changes):
            if doc is not None:
                docs.append(doc)
            out.append((self._tables[name], key, doc))
        copies = iter(_checked(docs) if owned else _private_copies(docs))
        runs: list[Prepared] = []
        for table, key, doc in out:
            if not runs or runs[-1][0] is not table:
                runs.append((table, [], []))
            runs[-1][1].append(key)
            runs[-1][2].append(None if doc is None else next(copies))
        if bulk is not None:
            name, keys, bulk_docs = bulk
            bulk_table = self._tables.get(name)
            if bulk_table is None:
                raise InvalidCommit(f"There is no table {name!r} in the store.")
            if len(keys) != len(bulk_docs) or any(t is bulk_table and set(k).intersection(keys) for t, k, _ in runs):
                raise InvalidCommit(f"A bulk change to {name!r} is malformed; the change was not made.")
            runs.append((bulk_table, keys, bulk_docs))
        return runs

    def apply(self, prepared: Sequence[Prepared]) -> tuple[list[Run], list[Undo]]:
        """Apply prepared changes to memory now; return them by table name (for the
        journal) and the undo record that `undo` reverses them with.

        Each run of changes to one table is written with dict updates and told to the
        listeners in one call, with no object made per change: 50,000 devices apply in
        a few tens of milliseconds, the only part of a bulk commit run on the event loop.
        """
        undo: list[Undo] = []
        named: list[Run] = []
        for table, keys, docs in prepared:
            ids, rows = table.ids, table.rows
            # In C steps where the run allows (all keys new, or all held): no Python step per row.
            old_ids = list(map(ids.get, keys))
            old_docs: list[Doc | None]
            if None not in old_ids:
                old_docs = list(map(rows.__getitem__, old_ids))  # type: ignore[arg-type]  # no None: checked
            elif old_ids.count(None) == len(old_ids):
                old_docs = [None] * len(keys)
            else:
                old_docs = [None if doc_id is None else rows[doc_id] for doc_id in old_ids]
            undo.append((table, keys, old_ids, old_docs))
            if None in docs:  # deletions among them: one at a time
                for key, doc in zip(keys, docs, strict=True):
                    self._put(table, key, None, doc)
            elif None not in old_ids:  # every key replaced (a bulk code issue): same doc ids
                rows.update(zip(old_ids, docs, strict=True))  # type: ignore[arg-type]  # no None: checked above
            else:
                next_id = table.next_id
                if old_ids.count(None) == len(old_ids):  # only new keys (a bulk add)
                    new_ids = list(map(str, range(next_id, next_id + len(keys))))
                    next_id += len(keys)
                else:
                    new_ids = []
                    for doc_id in old_ids:
                        if doc_id is None:
                            doc_id = str(next_id)
                            next_id += 1
                        new_ids.append(doc_id)
                table.next_id = next_id
                ids.update(zip(keys, new_ids, strict=True))
                rows.update(zip(new_ids, docs, strict=True))  # type: ignore[arg-type]  # no None: checked above
            named.append((table.spec.name, keys, docs))
            self._notify(table.spec.name, keys, old_docs, docs)
        return named, undo

    def undo(self, undo: Sequence[Undo]) -> None:
        """Put back what `apply` replaced, last change first."""
        for table, keys, old_ids, old_docs in reversed(undo):
            replaced = [self._put(table, key, old_id, old_doc)
                        for key, old_id, old_doc in zip(reversed(keys), reversed(old_ids), reversed(old_docs),
                                                        strict=True)]
            self._notify(table.spec.name, keys[::-1], replaced, old_docs[::-1])

    def _put(self, table: Table, key: Key, doc_id: str | None, doc: Doc | None) -> Doc | None:
        """Put `doc` (or nothing) under `key`, reusing `doc_id` when given; the doc replaced."""
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
        return old_doc

    def _notify(self, name: str, keys: list[Key], old: list[Doc | None], new: list[Doc | None]) -> None:
        for listener in self._listeners:
            listener(name, keys, old, new)

    # -- checkpoints -------------------------------------------------------------------

    def snapshot(self, batch: int) -> dict[str, Any]:
        """A consistent copy for the writer thread: new table dicts over immutable docs,
        and the `_meta` table naming the batch it holds."""
        tables: dict[str, Any] = {name: dict(rows) for name, rows in self._cache.read().items() if name != META_TABLE}
        meta = {"schema_version": SCHEMA_VERSION, "tenant_id": self.tenant_id, "batch": batch}
        tables[META_TABLE] = {META_DOC_ID: meta}
        return tables

    def write_snapshot(self, snapshot: dict[str, Any]) -> int:
        """Atomically replace the TinyDB file with `snapshot` (blocking); its new size."""
        self._cache.write_snapshot(snapshot)
        return self.path.stat().st_size

    def close(self) -> None:
        self._cache.storage.close()


def check_changes(specs: Mapping[str, TableSpec], changes: Sequence[Change]) -> Sequence[Change]:
    """`changes`, if they can be applied as one unit: known tables, no key twice, docs that
    are JSON objects carrying their own key; else `InvalidCommit` saying which is not."""
    seen: set[tuple[str, Key]] = set()
    for name, key, doc in changes:
        spec = specs.get(name)
        if spec is None:
            raise InvalidCommit(f"There is no table {name!r} in the store.")
        if (name, key) in seen:
            raise InvalidCommit(f"{key!r} appears twice in one commit to {name!r}; the change was not made.")
        seen.add((name, key))
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidCommit(f"The document for {key!r} in {name!r} is not a JSON object.")
        try:
            own_key = spec.key_of(doc)
        except (KeyError, TypeError) as exc:
            raise InvalidCommit(f"The document for {key!r} in {name!r} has no key ({exc!r}).") from exc
        if own_key != key:
            raise InvalidCommit(f"The document for {key!r} in {name!r} carries the key {own_key!r}.")
    return changes


def check_off_loop(specs: Mapping[str, TableSpec], bulk: Run) -> None:
    """What `prepare` checks of a change set, for a bulk change whose docs the caller hands
    over (`check_changes`, every doc encodable), in a worker thread: reads nothing but
    `bulk`, so it may run off the event loop; then stage it as `bulk`."""
    name, keys, docs = bulk
    check_changes(specs, list(zip([name] * len(keys), keys, docs, strict=True)))
    try:  # in chunks: one orjson call over 50,000 docs would hold the GIL (and the loop) ~40 ms
        encode_list([doc for doc in docs if doc is not None])
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidCommit(f"A document cannot be stored as JSON ({exc}); the change was not made.") from exc


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
