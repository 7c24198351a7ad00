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

`version(table, key)` is the version of the row as last confirmed by the database.

Bulk work (50,000 rows: an upload, `code all`, another instance's bulk commit, a refused
one re-read) goes through in whole-run steps (`BulkRun`, `FeedRun`): dict updates and
look-ups over all the rows at once, listeners told once per table, no Python step per row
on the event loop where it can be helped.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import Any, Final, cast

import orjson

from storage.errors import InvalidCommit
from storage.release import release_later
from storage.tables import Change, Doc, Key, Listener, Run, TableSpec, check_changes, json_copy

# An expected version meaning "whatever this instance's earlier, still unsettled commit
# of the same row gives it": known only once that commit is written.
CHAINED: Final = -1


@dataclass
class BulkRun:
    """A bulk commit's run of new documents for one table, kept whole: its rows are
    tracked as one set, not one by one (50,000 rows settle in one step)."""

    table: str
    keys: list[Key]
    key_set: set[Key]
    old: list[Doc | None]  # what each row held before (for undo)


@dataclass
class Pending:
    """A local commit, applied here and waiting to be made durable."""

    replica: TenantReplica
    changes: list[Change]  # validated private copies; a bulk run's rows come last
    texts: list[str | None]  # each change's doc as JSON text (None: deleted), for the database
    expected: list[int | None]  # the version each row had when this commit read it (None: absent)
    audit: list[Doc]
    undo: list[Change]  # what the changes before the bulk run replaced, in order
    future: asyncio.Future[None]
    run: BulkRun | None = None
    chained: bool = False  # some expected version is CHAINED

    @property
    def single_changes(self) -> list[Change]:
        """The changes other than the bulk run's."""
        return self.changes if self.run is None else self.changes[:len(self.changes) - len(self.run.keys)]


@dataclass
class FeedRun:
    """Rows of one table as the database holds them, from the change feed (`feed_runs`: the
    last change of each) or re-read after a refusal; a doc of None: the row is gone."""

    table: str
    keys: list[Key]
    versions: list[int]
    docs: list[Doc | None]


def feed_runs(rows: Sequence[tuple[int, str, str, str | None]]) -> list[FeedRun]:
    """Feed rows (version, table, key as stored, doc as JSON text or None), in commit
    order, decoded and grouped by table, each row's last change only. Pure: a worker
    thread decodes the 50,000 rows of another instance's bulk commit."""
    last: dict[str, dict[Key, tuple[int, Doc | None]]] = {}
    for version, table, key, text in rows:
        last.setdefault(table, {})[decode_key(key)] = (version, None if text is None else orjson.loads(text))
    return [FeedRun(table, list(found), [v for v, _ in found.values()], [d for _, d in found.values()])
            for table, found in last.items()]


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
        # Per table, key -> the version of the row as last confirmed by the database.
        self._versions: dict[str, dict[Key, int]] = {spec.name: {} for spec in specs}
        # The newest version `load` ever set: a local commit confirmed at a later version
        # can't be older than anything this copy holds (the common, fast case of `confirm`).
        self._newest_loaded = 0
        self.feed_position = 0  # the last change of the feed applied here
        # Rows with local commits not yet written: per table, key -> how many such commits
        # (changes one by one), and the bulk runs of such commits (each a set of keys).
        self._unsettled: dict[str, dict[Key, int]] = {spec.name: {} for spec in specs}
        self._unsettled_runs: list[BulkRun] = []
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
        table's new docs, handed over, as `check_off_loop` returned them (checked, and
        encoded for the database); staged as a run, in steps over all its rows at once (no Python
        step per row: 50,000 rows stage in a few milliseconds)."""
        checked_changes, texts = self._checked(changes, owned)
        run_texts: list[str | None] = []
        if bulk is not None:
            name, keys = bulk[0], bulk[1]
            forms: list[Any] = bulk[2]
            bulk_keys = set(keys)
            try:  # as `check_off_loop` made them: (doc, JSON text) pairs
                docs: list[Doc | None] = list(map(itemgetter(0), forms))
                run_texts = list(map(itemgetter(1), forms))
            except (TypeError, IndexError, KeyError):
                docs = []
            if (name not in self._rows or len(docs) != len(keys) or None in docs or None in run_texts
                    or len(bulk_keys) < len(keys) or any(t == name and k in bulk_keys for t, k, _ in checked_changes)):
                raise InvalidCommit(f"A bulk change to {name!r} is malformed; the change was not made.")
        audit_docs = [json_copy(a) for a in audit]
        # What each row rests on is taken now, with the read: a change another instance makes
        # meanwhile (and the feed brings in) must refuse this commit, not become its base.
        expected = [CHAINED if self.is_unsettled(table, key) else self._versions[table].get(key)
                    for table, key, _ in checked_changes]
        undo = self._apply(checked_changes)
        for table, key, _ in checked_changes:
            waiting = self._unsettled[table]
            waiting[key] = waiting.get(key, 0) + 1
        run: BulkRun | None = None
        if bulk is not None:
            run = BulkRun(name, keys, bulk_keys, self._apply_run(name, keys, docs))
            expected += self._run_expected(run)
            checked_changes += zip([name] * len(keys), keys, docs, strict=True)
            texts += run_texts
            self._unsettled_runs.append(run)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._submit(Pending(self, checked_changes, texts, expected, audit_docs, undo, future, run,
                             chained=CHAINED in expected))
        return future

    async def commit(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> None:
        await asyncio.shield(self.stage(changes, audit))

    def version(self, table: str, key: Key) -> int | None:
        """The row's version as last confirmed by the database (None: absent there)."""
        return self._versions[table].get(key)

    def is_unsettled(self, table: str, key: Key) -> bool:
        """Whether a local commit of this row is still waiting to be written."""
        return key in self._unsettled[table] or any(
            run.table == table and key in run.key_set for run in self._unsettled_runs)

    def unsettled_of(self, table: str, keys: set[Key]) -> set[Key]:
        """Those of `keys` (of one table) that a waiting local commit changes."""
        found = keys.intersection(self._unsettled[table])
        for run in self._unsettled_runs:
            if run.table == table:
                found |= keys & run.key_set
        return found

    # -- what the writer and the feed do ---------------------------------------------------

    def confirm(self, pending: Pending, version: int) -> None:
        """The database holds `pending`'s changes at `version`."""
        for table, key, doc in pending.single_changes:
            versions = self._versions[table]
            known = versions.get(key)
            if known is not None and known > version:
                continue  # the feed already brought a later change of this row
            if doc is None:
                versions.pop(key, None)
            else:
                versions[key] = version
        run = pending.run
        if run is not None:
            versions = self._versions[run.table]
            if self._newest_loaded < version:  # nothing here is newer: every row takes it
                versions.update(dict.fromkeys(run.keys, version))
            else:
                versions.update((key, version) for key in run.keys if versions.get(key, 0) <= version)

    def settled(self, pending: Pending) -> None:
        """`pending` was written or refused (and then undone): its rows no longer wait on it,
        and what it replaced is no longer needed for an undo."""
        for table, key, _ in pending.single_changes:
            waiting = self._unsettled[table]
            left = waiting.get(key, 0) - 1
            if left > 0:
                waiting[key] = left
            else:
                waiting.pop(key, None)
        if pending.run is not None:
            self._unsettled_runs = [run for run in self._unsettled_runs if run is not pending.run]
            release_later(pending.run.old)  # the documents the run replaced, freed off the loop

    def undo(self, pending: Pending) -> None:
        """Put back what `pending` replaced, last change first."""
        run = pending.run
        if run is not None:
            self._undo_run(run)
        self._apply(list(reversed(pending.undo)))

    def _undo_run(self, run: BulkRun) -> None:
        """Put back what a bulk run replaced (its rows' old docs; rows it added go)."""
        rows = self._rows[run.table]
        current = list(map(rows.get, run.keys))
        pop = rows.pop
        for key, old in zip(run.keys, run.old, strict=True):
            if old is None:
                pop(key, None)
        rows.update((key, old) for key, old in zip(run.keys, run.old, strict=True) if old is not None)
        for listener in self._listeners:
            listener(run.table, run.keys, current, run.old)

    def load(self, table: str, key: Key, doc: Doc | None, version: int | None) -> None:
        """Set a row as the database holds it (at open, or re-read after a conflict)."""
        self._apply([(table, key, doc)])
        if doc is None or version is None:
            self._versions[table].pop(key, None)
        else:
            self._versions[table][key] = version
            self._newest_loaded = max(self._newest_loaded, version)

    def apply_remote(self, runs: Sequence[FeedRun]) -> None:
        """Changes from the feed (`feed_runs`): each row taken if newer than what this copy
        last confirmed. One step per table, in C where the run allows: another instance's
        bulk commit of 50,000 rows applies with a few dict updates, and listeners hear once."""
        for run in runs:
            if run.table not in self._rows:
                continue
            known = list(map(self._versions[run.table].get, run.keys))
            newer = [was is None or was < version for was, version in zip(known, run.versions, strict=True)]
            if not all(newer):  # ours, or older than what we hold: left out
                run = FeedRun(run.table, list(compress(run.keys, newer)), list(compress(run.versions, newer)),
                              list(compress(run.docs, newer)))
            self.load_run(run)

    def load_run(self, run: FeedRun) -> None:
        """Set rows as the database holds them (`load` for many: a doc of None is a row the
        database doesn't have, its version then unused). In C steps unless rows go."""
        if run.table not in self._rows or not run.keys:
            return
        versions, rows = self._versions[run.table], self._rows[run.table]
        if None in run.docs:  # removals among them: row by row
            for key, version, doc in zip(run.keys, run.versions, run.docs, strict=True):
                if doc is not None or key in rows:
                    self.load(run.table, key, doc, version)
            return
        old = list(map(rows.get, run.keys))
        rows.update(zip(run.keys, cast(list[Doc], run.docs), strict=True))
        versions.update(zip(run.keys, run.versions, strict=True))
        self._newest_loaded = max(self._newest_loaded, max(run.versions))
        for listener in self._listeners:
            listener(run.table, run.keys, old, run.docs)
        release_later(old)  # the replaced documents, freed off the loop

    # -- internals ---------------------------------------------------------------------------

    def check_off_loop(self, bulk: Run) -> list[Any]:
        """In a worker thread: `check_changes` over a bulk change (see `stage`'s `bulk`), and
        its docs encoded for the database: each doc as a (doc, JSON text) pair, the form
        `stage` takes a bulk run's docs in (it then needn't encode them, on the loop)."""
        name, keys, docs = bulk
        changes = list(zip([name] * len(keys), keys, docs, strict=True))
        check_changes(self._specs, changes)
        return list(zip(docs, self._checked(changes, True, True)[1], strict=True))

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

    def _run_expected(self, run: BulkRun) -> list[int | None]:
        """The version each row of a bulk run rests on (see `stage`), taken over all at once."""
        expected = list(map(self._versions[run.table].get, run.keys))
        earlier = self.unsettled_of(run.table, run.key_set)  # the run itself isn't listed yet
        if earlier:
            for index, key in enumerate(run.keys):
                if key in earlier:
                    expected[index] = CHAINED
        return expected

    def _apply_run(self, table: str, keys: list[Key], docs: list[Doc | None]) -> list[Doc | None]:
        """Set a bulk run's rows (docs, no deletions) in one step each; what they replaced."""
        rows = self._rows[table]
        old = list(map(rows.get, keys))
        rows.update(zip(keys, cast(list[Doc], docs), strict=True))
        for listener in self._listeners:
            listener(table, keys, old, docs)
        return old

    def _apply(self, changes: list[Change]) -> list[Change]:
        """Set every change's row now; what each replaced. Listeners hear once per table."""
        undo: list[Change] = []
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
