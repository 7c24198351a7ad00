"""Freeing big collections off the event loop, a few hundred objects at a time.

When the last reference to 50,000 replaced documents (or decoded devices) goes, CPython
frees them all in one C call: 30 to 60 ms with the GIL held, whichever thread does it,
since the interpreter switches threads only between bytecodes. `release_later(items)`
takes a list whose elements only it still references (documents a bulk change replaced,
devices it made stale) and a worker thread deletes them a chunk at a time, so the event
loop gets the GIL back between chunks.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Final

SMALL: Final = 1_000  # fewer elements than this are freed where they are: it's cheap
CHUNK: Final = 256  # elements freed per step of the worker thread (well under a millisecond)

_queue: queue.SimpleQueue[list[Any]] = queue.SimpleQueue()
_start_lock = threading.Lock()
_worker: threading.Thread | None = None


def release_later(items: list[Any]) -> None:
    """Have a worker thread empty `items` (in place) and so free what only it held."""
    global _worker
    if len(items) < SMALL:
        return
    with _start_lock:
        if _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_drain, name="release-later", daemon=True)
            _worker.start()
    _queue.put(items)


def _drain() -> None:
    while True:
        items = _queue.get()
        while items:
            del items[-CHUNK:]
        del items
