"""The durable store: a data directory of per-tenant TinyDB files, behind one lock.

Layout of the data directory (mode 0700, every file 0600):
- `.lock`: held with `flock` by the one process using the directory.
- `tenant-<32 hex>.json`: one TinyDB file per tenant, named by a SHA-256 prefix of the
  tenant id (ids come from the channel and are never trusted as paths); the id itself
  is in the file's `_meta` table with the schema version.
- `tenant-<32 hex>.wal`: that tenant's journal of batches since the file was last
  rewritten (see `journal.py`).
- `tenant-<32 hex>.audit.jsonl`: that tenant's audit events, one JSON object a line.

A file per tenant because a TinyDB file is rewritten whole: a shared file would rewrite
every tenant's devices on each tenant's write. Everything is read once at open; a file
that cannot be read stops the start-up and is left as it was.
"""
from __future__ import annotations

import asyncio
import errno
import fcntl
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storage import audit_log
from storage.atomic import is_temp_file
from storage.device_repository import DEVICES, TABLES, DeviceRepository
from storage.errors import InvalidTenantId, StoreCorrupt, StoreError, StoreLocked
from storage.group_commit import JOURNAL_MIN_BYTES
from storage.tenant_file import TenantFile
from storage.tenants import TenantStore

MAX_TENANT_ID = 256
FILE_PREFIX = "tenant-"
STORE_SUFFIX = ".json"
AUDIT_SUFFIX = ".audit.jsonl"
JOURNAL_SUFFIX = ".wal"
LOCK_NAME = ".lock"


def check_tenant_id(tenant_id: object) -> str:
    """The tenant id if the store accepts it, else `InvalidTenantId` saying why."""
    if not isinstance(tenant_id, str):
        raise InvalidTenantId(f"A tenant id must be text, not {type(tenant_id).__name__}.")
    if not tenant_id.strip():
        raise InvalidTenantId("The tenant id is empty; the conversation did not say which tenant it belongs to.")
    if len(tenant_id) > MAX_TENANT_ID:
        raise InvalidTenantId(
            f"The tenant id is {len(tenant_id)} characters long; at most {MAX_TENANT_ID} are accepted."
        )
    try:
        tenant_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTenantId("The tenant id holds characters that are not valid Unicode text.") from exc
    return tenant_id


def file_stem(tenant_id: str) -> str:
    """The tenant's file name without suffix: safe and fixed-length whatever the id holds."""
    return FILE_PREFIX + hashlib.sha256(tenant_id.encode("utf-8")).hexdigest()[:32]


class Store(TenantStore):
    """All tenants' devices in a data directory of TinyDB files."""

    def __init__(
        self,
        directory: Path,
        lock_fd: int,
        files: Iterable[TenantFile],
        journal_min_bytes: int = JOURNAL_MIN_BYTES,
    ) -> None:
        super().__init__()
        self.directory = directory
        self.journal_min_bytes = journal_min_bytes
        self._lock_fd: int | None = lock_fd
        self._files: dict[str, TenantFile] = {}
        for file in files:
            self._adopt_file(file)

    def _adopt_file(self, file: TenantFile) -> DeviceRepository:
        assert file.tenant_id is not None
        self._files[file.tenant_id] = file
        return self._adopt(file)

    def _new_tenant(self, tenant_id: str) -> TenantFile:
        file = _tenant_file(self.directory, file_stem(tenant_id), tenant_id, self.journal_min_bytes)
        file.load()  # no file yet (or it would have been loaded at open): nothing is read
        self._files[tenant_id] = file
        return file

    # -- maintenance -----------------------------------------------------------------

    def tenant_ids(self) -> list[str]:
        """Every tenant with a file or staged changes (maintenance views only)."""
        return sorted(tid for tid, file in self._files.items() if file.path.exists() or file.count(DEVICES))

    def tenant_file(self, tenant_id: str) -> TenantFile:
        """The generic file under a tenant's repository (maintenance and tests)."""
        self.tenant(tenant_id)
        return self._files[tenant_id]

    async def read_audit(self, tenant_id: str, mac: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's last `limit` acknowledged audit events (of one MAC if given), oldest first.

        Returns `AuditEvent.to_doc()` dicts; a torn line left by a crash is skipped.
        """
        file = self.tenant_file(tenant_id)
        keep = (lambda event: True) if mac is None else (lambda event: event.get("mac") == mac)
        return await asyncio.to_thread(audit_log.read_tail, file.audit_path, file.audit_size, limit, keep)

    async def close(self) -> None:
        """Finish every pending write, then release the directory lock. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.gather(*(file.close() for file in self._files.values()))
        finally:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None


async def open_store(directory: Path | str, *, journal_min_bytes: int = JOURNAL_MIN_BYTES) -> Store:
    """Open (creating, mode 0700) the data directory and load every tenant file.

    Raises `StoreLocked` if another process uses the directory, `StoreCorrupt` (or
    `StoreSchemaUnsupported`) naming a file that cannot be read. `journal_min_bytes`
    is the journal size below which a tenant's file is never rewritten (tests lower it).
    """
    directory = Path(directory).absolute()
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the data directory {directory}: {exc.strerror}. "
            "Set PROVISIONING_DATA to a writable directory."
        ) from exc
    lock_fd = _lock(directory)
    try:
        files = await asyncio.to_thread(_load_all, directory, journal_min_bytes)
    except BaseException:
        os.close(lock_fd)
        raise
    return Store(directory, lock_fd, files, journal_min_bytes)


def _lock(directory: Path) -> int:
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(
            f"Cannot open the lock file {path}: {exc.strerror}. Check the permissions of the "
            f"data directory or set PROVISIONING_DATA to a writable directory."
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        os.close(fd)
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise
        who = f" (pid {holder})" if holder.isdigit() else ""
        raise StoreLocked(
            f"Another provisioning-bot process{who} is using {directory}; stop it or set "
            f"PROVISIONING_DATA to another directory."
        ) from exc
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _tenant_file(directory: Path, stem: str, tenant_id: str | None, journal_min_bytes: int) -> TenantFile:
    return TenantFile(
        tenant_id,
        directory / (stem + STORE_SUFFIX),
        directory / (stem + JOURNAL_SUFFIX),
        directory / (stem + AUDIT_SUFFIX),
        TABLES,
        journal_min_bytes,
    )


def _load_all(directory: Path, journal_min_bytes: int) -> list[TenantFile]:
    """Remove a crash's temporary files, then load every tenant file (blocking)."""
    names = sorted(os.listdir(directory))
    for name in names:
        if is_temp_file(name) and name.startswith("." + FILE_PREFIX):
            os.unlink(directory / name)  # an unfinished write; the file it was for is intact
    files: list[TenantFile] = []
    for name in names:
        if name.startswith(FILE_PREFIX) and name.endswith(JOURNAL_SUFFIX):
            stem = name[: -len(JOURNAL_SUFFIX)]
            if stem + STORE_SUFFIX not in names and (directory / name).stat().st_size:
                raise StoreCorrupt(
                    f"The journal {directory / name} has no store file {stem}{STORE_SUFFIX} beside it. "
                    f"It was left untouched and the service did not start. Restore the store file from a "
                    f"backup, or move the journal aside too: mv '{directory / name}' '{directory / name}.broken'",
                    str(directory / name),
                )
        if not (name.startswith(FILE_PREFIX) and name.endswith(STORE_SUFFIX)):
            continue
        stem = name[: -len(STORE_SUFFIX)]
        file = _tenant_file(directory, stem, None, journal_min_bytes)
        file.load()
        assert file.tenant_id is not None
        if file_stem(file.tenant_id) != stem:
            file.raise_corrupt(
                f"it holds tenant {file.tenant_id!r}, whose file would be {file_stem(file.tenant_id)}{STORE_SUFFIX}"
            )
        files.append(file)
    return files
