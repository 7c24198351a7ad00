"""Errors the store raises, named for what went wrong and worded for the operator.

Start-up errors (`StoreLocked`, `StoreCorrupt`, `StoreSchemaUnsupported`) stop the
service; their message says what to do. `StoreWriteFailed` reaches the request whose
change could not be made durable; nothing of that change is kept in memory.
"""
from __future__ import annotations


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

    `reason` says why in a few words a chat answer can carry (no path, no error text).
    """

    def __init__(self, message: str, reason: str = "a write to the disk failed") -> None:
        super().__init__(message)
        self.reason = reason


class StoreClosed(StoreError):
    """The store was closed; no more commits are accepted."""


class InvalidTenantId(StoreError, ValueError):
    """A tenant id the store refuses (empty, too long, not text)."""


class InvalidCommit(StoreError, ValueError):
    """A commit that cannot be applied as one unit (nothing of it was applied)."""
