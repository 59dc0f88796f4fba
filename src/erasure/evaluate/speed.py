"""Wall-clock timing of sampling, for overhead figures (printed by notebooks, never asserted in tests)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_seconds(fns: dict[str, Callable[[], object]], repeats: int = 5) -> dict[str, float]:
    """The fastest of `repeats` runs of each function, the runs interleaved (a, b, a, b, …) so that a
    slow spell of the machine, or a warm-up, does not fall on one of them only."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
