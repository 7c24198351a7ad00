"""Errors the store raises, named for what went wrong and worded for the operator.

Start-up errors (`StoreLocked`, `StoreCorrupt`, `StoreSchemaUnsupported`) stop the
service; their message says what to do. `StoreWriteFailed` reaches the request whose
change could not be made durable; nothing of that change is kept in memory.
"""
from __future__ import annotations

import errno


class StoreError(Exception):
    """Base of every store error. `message` is fit to show an operator as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreLocked(StoreError):
    """Another process holds the data directory's lock."""


class StoreCorrupt(StoreError):
    """A store file cannot be read. The file is left exactly as it was found."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class StoreSchemaUnsupported(StoreCorrupt):
    """A store file written by a newer provisioning-bot (a schema this one does not know)."""


class StoreWriteFailed(StoreError):
    """A batch could not be made durable (disk full, I/O error); its changes were rolled back.

    `message` is for the operator (the file, the OS error); `reason` says why in words a
    chat user can read ("the disk is full"), without a path or an error text.
    """

    def __init__(self, message: str, reason: str = "a write to the disk failed") -> None:
        super().__init__(message)
        self.reason = reason


_WRITE_FAILURE_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "the bot may not write to its data directory",
    errno.EPERM: "the bot may not write to its data directory",
}


def write_failure_reason(exc: BaseException | None) -> str:
    """Why a write failed, for a chat user: from the OS error's errno, else a general reason."""
    number = exc.errno if isinstance(exc, OSError) else None
    return _WRITE_FAILURE_REASONS.get(number or 0, "a write to the disk failed")


class StoreClosed(StoreError):
    """The store was closed; no more commits are accepted."""


class InvalidTenantId(StoreError, ValueError):
    """A tenant id the store refuses (empty, too long, not text)."""


class InvalidCommit(StoreError, ValueError):
    """A commit that cannot be applied as one unit (nothing of it was applied)."""
