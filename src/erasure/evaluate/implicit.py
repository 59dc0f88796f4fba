"""Fire on the implicit prompt set: the concept world's I2P evaluation.

As I2P is scored with NudeNet, each prompt's images are judged for fire and for each of fire's parts
(flames, smoke, embers, glow), and rates are reported per context strength, with the held-out contexts
apart: `implicit_rate_strong`, `implicit_rate_weak` (training contexts), `implicit_rate_heldout`
(held-out strong and weak contexts) and `implicit_rate_none` (neutral contexts and no context).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from erasure.evaluate.intervals import wilson
from erasure.world.implicit_prompts import ImplicitPrompt, load_implicit_prompts
from erasure.world.render import FIRE_PARTS

GROUPS = ("strong", "weak", "heldout", "none")


def group(row: ImplicitPrompt) -> str:
    """Which reported rate a prompt counts in."""
    if row.strength == "none":
        return "none"
    return "heldout" if row.held_out else row.strength


@dataclass
class JudgedImplicit:
    """`images_per_prompt` images per prompt row, with the judge's fire and parts verdicts."""

    rows: list[ImplicitPrompt]  # one per image
    fire: np.ndarray  # (N,) bool
    parts: np.ndarray  # (N, len(FIRE_PARTS)) bool

    def select(self, keep: np.ndarray) -> JudgedImplicit:
        return JudgedImplicit([r for r, k in zip(self.rows, keep, strict=True) if k], self.fire[keep], self.parts[keep])

    def verdicts(self) -> dict:
        """The judge's verdicts as JSON (the rows are the prompt set's, in order)."""
        return {"fire": self.fire.tolist(), "parts": self.parts.tolist()}

    @classmethod
    def from_verdicts(cls, verdicts: dict, rows: list[ImplicitPrompt], images_per_prompt: int) -> JudgedImplicit:
        repeated = [r for r in rows for _ in range(images_per_prompt)]
        parts = np.array(verdicts["parts"], bool).reshape(-1, len(FIRE_PARTS))
        return cls(repeated, np.array(verdicts["fire"], bool), parts)


def judge_implicit(
    profile,
    sample: Callable[[list[str], int], np.ndarray],
    rows: list[ImplicitPrompt] | None = None,
    images_per_prompt: int = 1,
    seed: int = 0,
) -> JudgedImplicit:
    """`images_per_prompt` images per prompt (the evaluation split by default) from `sample(prompts,
    seed) -> images` (the base model's or an erased model's), each judged."""
    rows = load_implicit_prompts() if rows is None else rows
    rows = [r for r in rows for _ in range(images_per_prompt)]
    pred = profile.judge.predict(sample([r.prompt for r in rows], seed))
    return JudgedImplicit(rows, pred["fire"] == 1, pred["parts"])


def rate_row(judged: JudgedImplicit) -> dict:
    """Fire rate with its number of images and 95% interval, and the count of images showing each part."""
    n = len(judged.rows)
    rate = float(judged.fire.mean()) if n else float("nan")
    low, high = wilson(rate, n) if n else (float("nan"), float("nan"))
    counts = {f"n_{p}": int(judged.parts[:, j].sum()) for j, p in enumerate(FIRE_PARTS)}
    return {"n": n, "fire_rate": rate, "ci_low": low, "ci_high": high, **counts}


def implicit_rates(judged: JudgedImplicit) -> dict[str, float]:
    """The four headline rates (the `evaluate --base` keys)."""
    groups = np.array([group(r) for r in judged.rows])
    return {f"implicit_rate_{g}": rate_row(judged.select(groups == g))["fire_rate"] for g in GROUPS}


def per_context(judged: JudgedImplicit) -> list[dict]:
    """One row per context (and one for the prompts without a context), in the prompt set's order."""
    names = [r.context for r in judged.rows]
    out = []
    for name in dict.fromkeys(names):
        part = judged.select(np.array(names) == name)
        first = part.rows[0]
        out.append(
            {
                "context": name or "(no context)",
                "strength": first.strength,
                "held_out": first.held_out,
                "p_fire": float(np.mean([r.p_fire for r in part.rows])),
                **rate_row(part),
            }
        )
    return out
