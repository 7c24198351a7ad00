"""Process-wide settings made once at start-up: how the cyclic garbage collector runs.

The store keeps every tenant's documents in memory for the life of the process: at
50,000 devices, over a million long-lived dicts and lists, none of them in a reference
cycle (JSON documents, decoded `Device` dataclasses). CPython's default collector
(thresholds 700, 10, 10) still walks them: every full collection traverses every tracked
container (0.1 to 0.5 s at 50,000 devices, the event loop stalled all along), and bulk
work (loading the store, an upload of 10,000 rows, `code all`) allocates fast enough to
trigger several. Reference counting frees these objects; the collector only ever finds
cycles, which the bot makes rarely (exceptions with tracebacks, asyncio internals).

So, once the store is loaded: collect what start-up left, `gc.freeze()` the rest (the
loaded documents, modules, the app) into the permanent generation that collections never
traverse, and collect the young generation every `YOUNG_GENERATION_THRESHOLD` net
allocations instead of 700, which makes bulk allocation trigger a few cheap collections
instead of thousands, and full ones about 70 times less often. Cycles are still
collected; a burst of them waits at most that many allocations.

Bulk work (a 50,000-row upload, `code all` for 50,000) makes a million new long-lived
objects in seconds: enough to trigger full collections that traverse them and everything
not frozen, 0.1 to 0.3 s each with the GIL held, whichever thread allocates. So bulk work
runs inside `collector_paused()`: no automatic collection meanwhile, and at the end what
it left (the new documents and devices, acyclic like the loaded ones) is frozen too.
"""
from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 50_000  # net container allocations between young collections (default 700)


def tune_garbage_collector() -> None:
    """Call once at start-up, after the store is loaded and before serving requests."""
    gc.collect()  # start-up garbage goes now, rather than being frozen for good
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


def tune_thread_switching() -> None:
    """Call once at start-up: worker threads (an export's CSV, a sort of 50,000 devices, a
    bulk upload's checks) hold the GIL at most 1 ms, not 5, while the event loop waits for
    it. A request takes the GIL back a few times (at every socket call), so this is what
    it waits behind such work; the cost is a few more GIL hand-offs under contention."""
    sys.setswitchinterval(BULK_SWITCH_INTERVAL)


_paused = 0  # bulk operations under way in `collector_paused`
_enable_after = False  # whether the collector was on when the first of them began
_switch_after = 0.005  # the interpreter's switch interval before the first of them began
BULK_SWITCH_INTERVAL = 0.001  # seconds a worker thread may hold the GIL while the loop waits for it


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run bulk work with no automatic collection (nestable, across concurrent tasks);
    when the last one ends, freeze what is alive (cheap: the generations are spliced into
    the permanent one) and turn the collector back on if it was on.

    Meanwhile the interpreter's switch interval is 1 ms instead of 5: the bulk work's
    worker thread then hands the GIL back sooner each time the event loop wants it, which
    a request does a few times (at every socket call), so others wait less behind it."""
    global _paused, _enable_after, _switch_after
    if _paused == 0:
        _enable_after = gc.isenabled()
        _switch_after = sys.getswitchinterval()
        gc.disable()
        sys.setswitchinterval(BULK_SWITCH_INTERVAL)
    _paused += 1
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            gc.freeze()
            sys.setswitchinterval(_switch_after)
            if _enable_after:
                gc.enable()
