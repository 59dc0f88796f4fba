"""95% intervals for the rates the tables report (Wilson's score interval for a binomial proportion)."""

from __future__ import annotations

import math

#: The normal quantile of a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(rate: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a share `rate` of `n` images (Wilson 1927; Brown, Cai and DasGupta 2001):
    center (p + z²/2n) / (1 + z²/n), half-width z sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n)."""
    if n <= 0:
        raise ValueError(f"an interval needs at least one image, got n={n}")
    denom = 1 + z * z / n
    center = (rate + z * z / (2 * n)) / denom
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def separated(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two intervals do not overlap: the only case in which the tables call two rates different."""
    return a[1] < b[0] or b[1] < a[0]
