"""How the notebooks show rates: in percent, each with its 95% interval and its true number of images.

A report row (`erasure_report`, `run_erasure_pooled`) holds each rate's share (`*_before`, `*_after`), its
interval bounds (`*_before_low` ...) and its image count (`*_n`); `rate_table` turns rows into the
columns a reader compares: "house 99.0 [96.5, 99.7]" reads as 99.0% with the 95% Wilson interval.
"""

from __future__ import annotations

import pandas as pd

from erasure.evaluate.intervals import wilson

#: The rates a before/after table shows, with their column names.
RATE_NAMES = {
    "erased_rate": "erased %",
    "related_rate": "related %",
    "retained_accuracy": "retained %",
}


def percent_with_interval(share: float, low: float, high: float) -> str:
    """`share` and its interval in percent, one decimal: "19.0 [12.1, 28.4]"."""
    return f"{100 * share:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def share_column(shares, counts) -> list[str]:
    """Shares with the 95% Wilson interval of each, given its number of trials."""
    return [percent_with_interval(s, *wilson(s, int(n))) for s, n in zip(shares, counts, strict=True)]


def rate_table(rows: pd.DataFrame, keys: list[str], rates=tuple(RATE_NAMES), when=("before", "after")) -> pd.DataFrame:
    """The `keys` columns, then per rate and moment its percentage with the 95% interval, and the rate's
    number of images per model (`n`)."""
    out = rows[keys].copy()
    for rate in rates:
        for moment in when:
            bounds = (rows[f"{rate}_{moment}_low"], rows[f"{rate}_{moment}_high"])
            out[f"{RATE_NAMES[rate]} {moment}"] = [
                percent_with_interval(s, lo, hi) for s, lo, hi in zip(rows[f"{rate}_{moment}"], *bounds, strict=True)
            ]
        out[f"{RATE_NAMES[rate]} n"] = rows[f"{rate}_n"].astype(int)
    return out


def clip_column(rows: pd.DataFrame) -> list[str]:
    """The tiny CLIP score on retained prompts before and after erasure, three decimals: "0.752 / 0.724"."""
    return [f"{b:.3f} / {a:.3f}" for b, a in zip(rows.clip_score_before, rows.clip_score_after, strict=True)]
