"""The TinyDB storage and middleware under the store: atomic whole-file writes.

`AtomicJSONStorage` is a TinyDB `Storage` that never leaves a half-written file: it
writes a temporary file in the same directory, fsyncs it, `os.replace`s it over the
old file and fsyncs the directory, so a kill -9 at any moment leaves the old or the
new state. It encodes with orjson (about 8x faster than `json` on large files, and the
encoding is most of a flush's cost). `LiveCache` is TinyDB's caching middleware with
the cache as the live, authoritative state: reads never touch the file after the first
parse, and durable writes are explicit snapshots (see `tables.py` and `group_commit.py`).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from storage.errors import StoreCorrupt

TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o600


def temp_path_for(path: Path) -> Path:
    """A fresh temporary name next to `path`, hidden and recognisable for clean-up."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def is_temp_file(name: str) -> bool:
    """True for names made by `temp_path_for` (leftovers of a crash, safe to delete)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new directory entry durable (a file fsync does not cover it)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, payload: bytes | memoryview) -> None:
    """os.write may write less than asked (large payloads, signals); loop until done."""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def atomic_write(path: Path, pieces: Iterable[bytes | memoryview]) -> None:
    """Replace `path` with the concatenated `pieces` so a crash leaves the old or the new file.

    Pieces are written as they come, so a large file is never joined into one buffer
    (a 40 MB copy holds the GIL, stalling the event loop thread while it runs).
    """
    temp = temp_path_for(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            for piece in pieces:
                write_all(fd, piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


# Documents per orjson call when encoding large tables. One call holds the GIL from
# start to end; chunks of ~1,000 documents (a few ms each) let the event loop thread in
# between, so a worker thread encoding a 40 MB checkpoint does not stall the loop for
# the ~140 ms a single call takes.
ENCODE_CHUNK = 1024


def encode_list(items: Sequence[Any]) -> bytes:
    """orjson.dumps(list(items)), in chunks that bound how long the GIL is held."""
    if len(items) <= ENCODE_CHUNK:
        return orjson.dumps(list(items))
    parts = [orjson.dumps(list(items[i : i + ENCODE_CHUNK]))[1:-1] for i in range(0, len(items), ENCODE_CHUNK)]
    return b"[" + b",".join(parts) + b"]"


def iter_object(mapping: dict[str, Any]) -> Iterator[bytes | memoryview]:
    """The pieces of orjson.dumps(mapping) for a {str: JSON} dict, in GIL-bounded chunks."""
    if len(mapping) <= ENCODE_CHUNK:
        yield orjson.dumps(mapping)
        return
    # Chunks are cut from the live iterator rather than a list of all items: a list of
    # 50,000 fresh tuples would feed the cyclic GC (which runs in whichever thread
    # allocates, holding the GIL for a pass over the whole heap).
    items = iter(mapping.items())
    yield b"{"
    for start in range(0, len(mapping), ENCODE_CHUNK):
        if start:
            yield b","
        yield memoryview(orjson.dumps(dict(islice(items, ENCODE_CHUNK))))[1:-1]
    yield b"}"


def iter_tables(data: dict[str, dict[str, Any]]) -> Iterator[bytes | memoryview]:
    """A TinyDB database as JSON, in pieces whose concatenation is `orjson.dumps(data)`."""
    yield b"{"
    for index, (name, table) in enumerate(data.items()):
        yield (b"," if index else b"") + orjson.dumps(name) + b":"
        yield from iter_object(table)
    yield b"}"


def truncate_file(path: Path, size: int) -> None:
    """Cut `path` back to `size` bytes, durably (a failed or torn append's leftovers)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if os.fstat(fd).st_size > size:
            os.ftruncate(fd, size)
            os.fsync(fd)
    finally:
        os.close(fd)


def corrupt_message(path: Path, reason: str, move_aside: Sequence[Path] = ()) -> str:
    """The operator-facing text for a file the store will not start with."""
    files = list(move_aside) or [path]
    moves = "; ".join(f"mv '{f}' '{f}.broken'" for f in files)
    return (
        f"The store file {path} cannot be read: {reason}. It was left untouched and the "
        f"service did not start. Restore it from a backup, or move it aside to start that "
        f"tenant empty (its devices will be gone): {moves}"
    )


class AtomicJSONStorage(Storage):
    """A TinyDB storage on one JSON file, written atomically and durably, 0600."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)

    def read(self) -> dict[str, dict[str, Any]] | None:
        """The whole database, or None when the file does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreCorrupt(corrupt_message(self.path, exc.strerror or str(exc)), str(self.path)) from exc
        if not raw:
            # The store never writes an empty file; an empty one is damage, not "no data".
            raise StoreCorrupt(corrupt_message(self.path, "the file is empty"), str(self.path))
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreCorrupt(corrupt_message(self.path, f"not valid JSON ({exc})"), str(self.path)) from exc
        if not isinstance(data, dict):
            raise StoreCorrupt(
                corrupt_message(self.path, "not a TinyDB database (no top-level object)"), str(self.path)
            )
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        atomic_write(self.path, iter_tables(data))


class LiveCache(CachingMiddleware):
    """TinyDB's caching middleware, with the cache as the live state.

    `write` only replaces the cache: it never flushes by itself, because durability is
    decided by the tenant file's single writer, which hands `write_snapshot` a
    consistent copy from a worker thread.
    """

    def __init__(self, storage_cls: type[Storage]) -> None:
        # TinyDB's middleware constructor is unannotated upstream; this one is the typed face.
        super().__init__(storage_cls)  # type: ignore[no-untyped-call]
        self.cache: dict[str, dict[str, Any]] | None = None

    def read(self) -> dict[str, dict[str, Any]]:
        if self.cache is None:
            self.cache = self.storage.read() or {}
        return self.cache

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.cache = data

    def flush(self) -> None:
        """Nothing to do: every acknowledged change was already written by a snapshot."""

    def write_snapshot(self, snapshot: dict[str, dict[str, Any]]) -> None:
        """Write `snapshot` durably. Called off the event loop; `snapshot` must not change."""
        self.storage.write(snapshot)
