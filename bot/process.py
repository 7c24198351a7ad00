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
"""
from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 50_000  # net container allocations between young collections (default 700)


def tune_garbage_collector() -> None:
    """Call once at start-up, after the store is loaded and before serving requests."""
    gc.collect()  # start-up garbage goes now, rather than being frozen for good
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
