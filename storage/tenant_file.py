"""One tenant's store: its tables in memory (`tables.py`) made durable by one
group-committing writer (`group_commit.py`), behind one object.

`TenantFile` is what `store.py` opens per tenant: `load` at open, reads from memory,
`stage`/`commit` for changes (applied to memory at once, acknowledged once on disk),
`drain`/`close` at shutdown. The guarantees are documented in the two modules.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from storage.group_commit import JOURNAL_MIN_BYTES, GroupCommitWriter
from storage.tables import Change, Doc, Key, Listener, Run, TableSpec, TenantTables, check_off_loop


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
        self.tables = TenantTables(tenant_id, path, journal_path, audit_path, specs)
        self.writer = GroupCommitWriter(self.tables, journal_min_bytes)

    @property
    def tenant_id(self) -> str | None:
        """The tenant; read from the file at `load` when opened without one."""
        return self.tables.tenant_id

    @property
    def path(self) -> Path:
        return self.tables.path

    @property
    def audit_path(self) -> Path:
        return self.tables.audit_path

    # -- opening -----------------------------------------------------------------------

    def load(self) -> None:
        """Read the tenant's files into memory (blocking; see `TenantTables.load`)."""
        self.writer.carry_on_from(self.tables.load())

    def raise_corrupt(self, reason: str, path: Path | None = None) -> NoReturn:
        self.tables.raise_corrupt(reason, path)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` on every in-memory change, rollbacks included."""
        self.tables.add_listener(listener)

    # -- reads (memory only) -------------------------------------------------------------

    def get(self, table: str, key: Key) -> Doc | None:
        return self.tables.get(table, key)

    def items(self, table: str) -> Iterator[tuple[Key, Doc]]:
        return self.tables.items(table)

    def keys(self, table: str) -> list[Key]:
        return self.tables.keys(table)

    def count(self, table: str) -> int:
        return self.tables.count(table)

    def held(self, table: str, keys: Sequence[Any]) -> list[Any]:
        return self.tables.held(table, keys)

    @property
    def audit_size(self) -> int:
        """Length of the audit file's acknowledged part."""
        return self.writer.audit_size

    @property
    def flush_count(self) -> int:
        """Durable batches since open (tests, benchmarks)."""
        return self.writer.flush_count

    @property
    def checkpoint_count(self) -> int:
        return self.writer.checkpoint_count

    # -- writes and closing ------------------------------------------------------------

    async def commit(self, changes: Sequence[Change], audit: Sequence[Doc] = ()) -> None:
        await self.writer.commit(changes, audit)

    def stage(self, changes: Sequence[Change], audit: Sequence[Doc] = (), owned: bool = False,
              bulk: Run | None = None) -> asyncio.Future[None]:
        return self.writer.stage(changes, audit, owned, bulk)

    def check_off_loop(self, bulk: Run) -> list[Any]:
        """Check a bulk change in a worker thread, so `stage(..., bulk=...)` only applies it
        (see `TenantTables.prepare`); its docs are staged as they are."""
        check_off_loop(self.tables.specs, bulk)
        return bulk[2]

    def request_checkpoint(self) -> None:
        self.writer.request_checkpoint()

    async def drain(self) -> None:
        await self.writer.drain()

    async def close(self) -> None:
        await self.writer.close()
