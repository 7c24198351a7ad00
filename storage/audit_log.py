"""Per-tenant append-only audit files: one JSON object per line, 0600.

Appends happen in the same batch flush as the tenant's store file, before it is
replaced, and the store file's meta records the audit file's length after the batch.
Bytes past that length belong to a batch that never became durable (a crash or a
failed flush between the two writes) and are cut at open, so the audit log holds
exactly the events of acknowledged changes. Readers still skip any line that does
not parse, such as a torn last line.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from storage.atomic import FILE_MODE, fsync_directory, write_all

_READ_BLOCK = 64 * 1024


def append(path: Path, committed_size: int, lines: bytes) -> int:
    """Append `lines` after the first `committed_size` bytes, fsync; return the new length."""
    existed = path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        size = os.fstat(fd).st_size
        if size > committed_size:
            # Left by a batch that failed after appending: not part of the log.
            os.ftruncate(fd, committed_size)
            size = committed_size
        os.lseek(fd, size, os.SEEK_SET)
        write_all(fd, lines)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not existed:
        fsync_directory(path.parent)
    return size + len(lines)


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_tail(
    path: Path,
    end: int,
    limit: int,
    keep: Callable[[dict[str, Any]], bool] = lambda event: True,
) -> list[dict[str, Any]]:
    """The last `limit` events before byte `end` that `keep` accepts, oldest first.

    Reads backwards block by block, so a status view costs the size of what it shows,
    not the size of the whole log.
    """
    found: list[dict[str, Any]] = []
    if limit <= 0:
        return found
    try:
        # Opened outside `with` so that only a missing file is "no events", not a read error.
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return found
    with handle:
        end = min(end, os.fstat(handle.fileno()).st_size)
        position = end
        carry = b""  # the start of a line whose beginning lies in an earlier block
        while position > 0 and len(found) < limit:
            start = max(0, position - _READ_BLOCK)
            handle.seek(start)
            block = handle.read(position - start) + carry
            position = start
            lines = block.split(b"\n")
            carry = lines.pop(0) if position > 0 else b""
            for line in reversed(lines):
                event = _parse(line)
                if event is not None and keep(event):
                    found.append(event)
                    if len(found) == limit:
                        break
    found.reverse()
    return found


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None  # a torn line from a crash mid-append
    return event if isinstance(event, dict) else None
