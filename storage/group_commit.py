"""Group commit: one writer per tenant makes staged changes durable, in batches.

- `stage` takes a change set, has the tables validate it and apply it to memory at once
  and synchronously (see `tables.py`), so a check-then-commit with no await in between
  cannot interleave with another request, and queues it. Nothing is applied if
  validation fails.
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
- `close` refuses new changes, drains the queue and folds the journal into the TinyDB
  file, so after a clean close that file alone holds everything.
- Flushes run in the store's own threads (`WRITER_THREADS`), not the loop's default
  executor, so nothing else the process runs in threads can queue ahead of a write.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from storage import audit_log, journal
from storage.atomic import ENCODE_CHUNK, truncate_file
from storage.errors import InvalidCommit, StoreClosed, StoreWriteFailed, write_failure_reason
from storage.release import release_later
from storage.tables import META_DOC_ID, META_TABLE, Change, Doc, FilesAtOpen, Run, TenantTables, Undo

log = logging.getLogger(__name__)

# The journal is folded into a checkpoint once it is larger than the TinyDB file (so
# disk use stays under about twice the data and replay at open costs about one more
# parse), and never before it reaches this size.
JOURNAL_MIN_BYTES = 4 * 1024 * 1024

# One flush per tenant at a time; threads start on demand and are shared by every tenant.
WRITER_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="store-writer")


@dataclass
class _Staged:
    future: asyncio.Future[None]
    changes: list[Run]
    undo: list[Undo]
    audit: bytes


@dataclass
class _Plan:
    """What one batch flush writes; built on the loop, carried out in a thread."""

    batch: int
    changes: list[Run]  # flattened into the journal record in the thread (50,000 at a time)
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


class GroupCommitWriter:
    """Makes one tenant's staged changes durable: batching, journal or checkpoint, rollback."""

    def __init__(self, tables: TenantTables, journal_min_bytes: int = JOURNAL_MIN_BYTES) -> None:
        self._tables = tables
        self.journal_min_bytes = journal_min_bytes
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

    def carry_on_from(self, files: FilesAtOpen) -> None:
        """Continue where the loaded files stand (call once, after `TenantTables.load`)."""
        self._batch = files.batch
        self._checkpoint_size = files.checkpoint_size
        self._journal_size = files.journal_size
        self._audit_size = files.audit_size

    @property
    def audit_size(self) -> int:
        """Length of the audit file's acknowledged part."""
        return self._audit_size

    # -- staging -----------------------------------------------------------------------

    async def commit(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> None:
        """Stage `changes` now, then return once they are durable (see `stage`)."""
        future = self.stage(changes, audit)
        # Shielded: a cancelled request must not cancel the batch others wait on.
        await asyncio.shield(future)

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False,
              bulk: Run | None = None) -> asyncio.Future[None]:
        """Apply `changes` to memory now and queue them; the future resolves when durable.

        Validates everything first (`TenantTables.prepare`: tables, keys, JSON docs;
        then the audit events) and raises `InvalidCommit` without applying anything.
        `owned` skips the private copy of the docs; `bulk` is one table's changes already
        checked off the event loop (see `prepare`). An empty change set
        resolves at once.
        """
        if self._closed:
            raise StoreClosed("The store is closed; the change was not made.")
        loop = asyncio.get_running_loop()
        prepared = self._tables.prepare(changes, owned, bulk)
        audit_lines = _encode_audit(audit)
        future: asyncio.Future[None] = loop.create_future()
        if not prepared and not audit_lines:
            future.set_result(None)
            return future
        named, undo = self._tables.apply(prepared)
        self._pending.append(_Staged(future, named, undo, audit_lines))
        if self._writer is None:
            self._writer = loop.create_task(self._write_batches(), name=f"store-writer-{self._tables.path.name}")
        return future

    def request_checkpoint(self) -> None:
        """Have the next batch rewrite the TinyDB file (say, before a file-level backup)."""
        self._checkpoint_requested = True

    # -- the writer task -----------------------------------------------------------------

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
                flush = asyncio.get_running_loop().run_in_executor(WRITER_THREADS, self._flush, plan)
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
        changes = [run for staged in batch for run in staged.changes]
        plan = _Plan(
            batch=self._batch + 1,
            changes=changes,
            audit_lines=b"".join(staged.audit for staged in batch),
            committed_audit=self._audit_size,
            committed_journal=self._journal_size,
            snapshot=None,
            journal_allowed=self._checkpoint_size is not None,
        )
        if self._wants_checkpoint(sum(len(keys) for _, keys, _ in changes)):
            plan.snapshot = self._tables.snapshot(plan.batch)
        return plan

    def _wants_checkpoint(self, change_count: int) -> bool:
        if self._checkpoint_size is None or self._checkpoint_requested:
            return True
        if self._journal_size < self._checkpoint_retry_at:
            return False
        limit = max(self.journal_min_bytes, self._checkpoint_size)
        # A batch rewriting much of the table (bulk code issue) is cheaper as a checkpoint.
        bulk = change_count >= max(ENCODE_CHUNK, self._tables.document_count() // 4)
        return self._journal_size >= limit or bulk

    def _flush(self, plan: _Plan) -> _Outcome:
        """Make one batch durable (worker thread)."""
        tables = self._tables
        audit_size = plan.committed_audit
        try:
            if plan.audit_lines:
                audit_size = audit_log.append(tables.audit_path, plan.committed_audit, plan.audit_lines)
            checkpoint_failed = False
            if plan.snapshot is not None:
                try:
                    return self._checkpoint(plan.snapshot, audit_size, plan.committed_journal)
                except OSError:
                    if not plan.journal_allowed:
                        raise
                    log.warning("checkpoint of %s failed; the batch goes to the journal", tables.path, exc_info=True)
                    checkpoint_failed = True
            changes = [(name, key, doc) for name, keys, docs in plan.changes
                       for key, doc in zip(keys, docs, strict=True)]
            record = journal.encode_record(plan.batch, audit_size, changes)
            journal_size = journal.append(tables.journal_path, plan.committed_journal, record)
            return _Outcome(audit_size, journal_size, checkpoint_failed=checkpoint_failed)
        except BaseException:
            try:
                truncate_file(tables.audit_path, plan.committed_audit)
                truncate_file(tables.journal_path, plan.committed_journal)
            except OSError:
                log.exception("could not cut an unacknowledged batch's bytes from %s", tables.path.name)
            raise

    def _checkpoint(self, snapshot: dict[str, Any], audit_size: int, committed_journal: int) -> _Outcome:
        snapshot[META_TABLE][META_DOC_ID]["audit_size"] = audit_size
        size = self._tables.write_snapshot(snapshot)
        try:
            journal.reset(self._tables.journal_path)
        except OSError:
            # Harmless: the journal's batches are all in the checkpoint and skipped at replay.
            log.warning("could not empty the journal %s", self._tables.journal_path, exc_info=True)
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
            for _, _, _, old_docs in staged.undo:
                release_later(old_docs)  # what a bulk change replaced, freed off the loop

    def _fail(self, staged_list: list[_Staged], exc: BaseException | None) -> None:
        path = self._tables.path
        log.error("store flush of %s failed; %d change sets rolled back: %r", path.name, len(staged_list), exc)
        for staged in reversed(staged_list):
            self._tables.undo(staged.undo)
        error = StoreWriteFailed(
            f"The change could not be saved to {path} ({exc!r}); nothing of it was kept. "
            "Check free disk space and permissions of the data directory, then try again.",
            reason=write_failure_reason(exc),
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
            snapshot = self._tables.snapshot(self._batch + 1)
            try:
                await asyncio.get_running_loop().run_in_executor(
                    WRITER_THREADS, self._checkpoint, snapshot, self._audit_size, self._journal_size)
                self._batch += 1
                self._journal_size = 0
            except OSError:
                log.warning("final checkpoint of %s failed; its journal keeps the changes", self._tables.path,
                            exc_info=True)
        self._tables.close()


def _encode_audit(events: Sequence[Mapping[str, Any]]) -> bytes:
    try:
        return b"".join(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE) for event in events)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidCommit(f"An audit event cannot be stored as JSON ({exc}); the change was not made.") from exc
