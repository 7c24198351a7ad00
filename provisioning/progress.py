"""How far a long bulk operation has got, for whoever shows it (the chat's progress message).

The operation sets `total` and then `done` from its worker thread, every `PROGRESS_STEP`
items; a reader on the event loop polls them. Plain ints, each set in one assignment, so a
reader sees a recent value, never a torn one; nothing waits on them.
"""
from __future__ import annotations

from dataclasses import dataclass

PROGRESS_STEP = 1_000


@dataclass
class Progress:
    total: int = 0
    done: int = 0
