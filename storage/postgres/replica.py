"""One tenant's documents in memory, the working copy every read is served from.

The database holds the truth; each instance keeps a copy of every tenant's documents
and serves reads from it, as the TinyDB store does, so the provisioning rules keep their
contract (reads are dict look-ups; a commit is visible before its first await). The copy
is kept current two ways:

- local commits are applied at once (`stage`) with an undo record, then made durable by
  the writer, which checks in the database that every row it changes still has the
  version this copy had read; if another instance changed one meanwhile, the commit is
  refused (`ConcurrentChange`), undone here, and the rows are re-read from the database;
- changes committed by other instances arrive through the change feed (`apply_remote`)
  in commit order and replace what this copy holds, if newer.

`versions` holds, per key, the version of the row as last confirmed by the database.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from storage.errors import InvalidCommit
from storage.tables import Change, Doc, Key, Listener, Run, TableSpec, check_changes, json_copy

# An expected version meaning "whatever this instance's earlier, still unsettled commit
# of the same row gives it": known only once that commit is written.
CHAINED: Final = -1


@dataclass
class Pending:
    """A local commit, applied here and waiting to be made durable."""

    replica: TenantReplica
    changes: list[Change]  # validated private copies
    texts: list[str | None]  # each change's doc as JSON text (None: deleted), for the database
    expected: list[int | None]  # the version each row had when this commit read it (None: absent)
    audit: list[Doc]
    undo: list[tuple[str, Key, Doc | None]]  # what `apply` replaced, in order
    future: asyncio.Future[None]


def encode_key(key: Key) -> str:
    """A key as the database's text column holds it (a MAC, or a (kind, key) pair)."""
    return orjson.dumps(key).decode()


def decode_key(text: str) -> Key:
    value = orjson.loads(text)
    return tuple(value) if isinstance(value, list) else value


class TenantReplica:
    """A tenant's tables as dicts (key -> doc), with versions; the TenantFile interface."""

    def __init__(self, tenant_id: str, specs: Sequence[TableSpec], submit: Callable[[Pending], None]) -> None:
        self.tenant_id: str | None = tenant_id
        self._specs = {spec.name: spec for spec in specs}
        self._rows: dict[str, dict[Key, Doc]] = {spec.name: {} for spec in specs}
        self.versions: dict[tuple[str, Key], int] = {}
        self.feed_position = 0  # the last change of the feed applied here
        self.unsettled: dict[tuple[str, Key], int] = {}  # rows with local commits not yet written
        self._encoded: dict[int, tuple[Doc, str | None]] = {}  # bulk docs' JSON, by the doc's id
        self._listeners: list[Listener] = []
        self._submit = submit

    # -- the interface DeviceRepository and Store use ---------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def get(self, table: str, key: Key) -> Doc | None:
        return self._rows[table].get(key)

    def items(self, table: str) -> Iterator[tuple[Key, Doc]]:
        return iter(list(self._rows[table].items()))

    def keys(self, table: str) -> list[Key]:
        return list(self._rows[table])

    def count(self, table: str) -> int:
        return len(self._rows[table])

    def held(self, table: str, keys: Sequence[Any]) -> list[Any]:
        rows = self._rows[table]
        return [key for key in keys if key in rows]

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False,
              bulk: Run | None = None) -> asyncio.Future[None]:
        """Validate, apply here at once, and hand to the writer; the future settles when the
        database has it (or refused it: then everything here was put back). `bulk`: one
        table's changes, docs handed over, checked by `check_off_loop` (still encoded here
        for the database, one JSON text per row)."""
        checked_changes, texts = self._checked(changes, owned)
        if bulk is not None:
            name, keys, docs = bulk
            bulk_keys = set(keys)
            if name not in self._rows or any(t == name and k in bulk_keys for t, k, _ in checked_changes):
                raise InvalidCommit(f"A bulk change to {name!r} is malformed; the change was not made.")
            more = list(zip([name] * len(keys), keys, docs, strict=True))
            checked_changes += more
            texts += self._bulk_texts(more, docs)
        audit_docs = [json_copy(a) for a in audit]
        # What each row rests on is taken now, with the read: a change another instance makes
        # meanwhile (and the feed brings in) must refuse this commit, not become its base.
        expected = [CHAINED if (table, key) in self.unsettled else self.versions.get((table, key))
                    for table, key, _ in checked_changes]
        undo = self._apply(checked_changes)
        for table, key, _ in checked_changes:
            self.unsettled[(table, key)] = self.unsettled.get((table, key), 0) + 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submit(Pending(self, checked_changes, texts, expected, audit_docs, undo, future))
        return future

    async def commit(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> None:
        await asyncio.shield(self.stage(changes, audit))

    # -- what the writer and the feed do ---------------------------------------------------

    def confirm(self, changes: Sequence[Change], version: int) -> None:
        """The database holds `changes` at `version`."""
        for table, key, doc in changes:
            known = self.versions.get((table, key))
            if known is not None and known > version:
                continue  # the feed already brought a later change of this row
            if doc is None:
                self.versions.pop((table, key), None)
            else:
                self.versions[(table, key)] = version

    def settled(self, pending: Pending) -> None:
        """`pending` was written or refused: its rows no longer wait on it."""
        for table, key, _ in pending.changes:
            left = self.unsettled.get((table, key), 0) - 1
            if left > 0:
                self.unsettled[(table, key)] = left
            else:
                self.unsettled.pop((table, key), None)

    def undo(self, pending: Pending) -> None:
        """Put back what `pending` replaced, last change first."""
        self._apply(list(reversed(pending.undo)))

    def load(self, table: str, key: Key, doc: Doc | None, version: int | None) -> None:
        """Set a row as the database holds it (at open, or re-read after a conflict)."""
        self._apply([(table, key, doc)])
        if doc is None or version is None:
            self.versions.pop((table, key), None)
        else:
            self.versions[(table, key)] = version

    def apply_remote(self, version: int, table: str, key: Key, doc: Doc | None) -> None:
        """A change from the feed: taken if newer than what this copy last confirmed."""
        if table not in self._rows:
            return
        known = self.versions.get((table, key))
        if known is not None and known >= version:
            return  # ours, or older than what we hold
        if doc is None and known is None and key not in self._rows[table]:
            return
        self.load(table, key, doc, version)

    # -- internals ---------------------------------------------------------------------------

    def check_off_loop(self, bulk: Run) -> None:
        """In a worker thread: `check_changes` over a bulk change (see `stage`'s `bulk`), and
        its docs encoded for the database, kept for `stage` (which then needn't, on the loop)."""
        name, keys, docs = bulk
        changes = list(zip([name] * len(keys), keys, docs, strict=True))
        check_changes(self._specs, changes)
        texts = self._checked(changes, True, True)[1]
        # By document: the run staged later may hold only some of these (rows dropped meanwhile).
        encoded = {id(doc): (doc, text) for doc, text in zip(docs, texts, strict=True) if doc is not None}
        self._encoded.update(encoded)  # one call: safe beside the loop's reads of the dict

    def _bulk_texts(self, changes: list[Change], docs: list[Doc | None]) -> list[str | None]:
        """The bulk change's JSON, as `check_off_loop` encoded it off the loop (else now)."""
        kept, self._encoded = self._encoded, {}  # what this stage doesn't use is dropped
        texts: list[str | None] = []
        for change, doc in zip(changes, docs, strict=True):
            found = kept.get(id(doc)) if doc is not None else None
            if found is not None and found[0] is doc:
                texts.append(found[1])
            else:
                texts.extend(self._checked([change], True, True)[1])
        return texts

    def _checked(self, changes: Sequence[Change], owned: bool, checked: bool = False
                 ) -> tuple[list[Change], list[str | None]]:
        """The changes validated (`InvalidCommit` with nothing touched), with private copies
        of their docs unless `owned` (the caller hands fresh docs over), and their JSON."""
        out: list[Change] = []
        texts: list[str | None] = []
        for name, key, doc in (changes if checked else check_changes(self._specs, changes)):
            if doc is not None:
                try:
                    text = orjson.dumps(doc).decode()
                except TypeError as exc:
                    raise InvalidCommit(f"The document for {key!r} in {name!r} cannot be stored ({exc}).") from exc
                doc = doc if owned else orjson.loads(text)
                texts.append(text)
            else:
                texts.append(None)
            out.append((name, key, doc))
        return out, texts

    def _apply(self, changes: list[Change]) -> list[tuple[str, Key, Doc | None]]:
        """Set every change's row now; what each replaced. Listeners hear once per table (a
        bulk change of 50,000 rows is one call, not 50,000)."""
        undo: list[tuple[str, Key, Doc | None]] = []
        by_table: dict[str, tuple[list[Key], list[Doc | None], list[Doc | None]]] = {}
        for table, key, doc in changes:
            rows = self._rows[table]
            old = rows.get(key)
            if doc is None:
                rows.pop(key, None)
            else:
                rows[key] = doc
            undo.append((table, key, old))
            if old is not doc:
                keys, olds, news = by_table.setdefault(table, ([], [], []))
                keys.append(key)
                olds.append(old)
                news.append(doc)
        for table, (keys, olds, news) in by_table.items():
            for listener in self._listeners:
                listener(table, keys, olds, news)
        return undo
