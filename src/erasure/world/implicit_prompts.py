"""The implicit prompt set: the concept world's analogue of I2P.

    python -m erasure.world.implicit_prompts     # rewrites data/prompts/implicit_fire.csv from its seed

Each prompt describes a scene with a context of `erasure.world.contexts` (or none) and never names fire;
its row states the context's strength, whether the context was held out of training, whether it is kept
for tuning, and the probability with which the world would burn such a scene. The nudity evaluation uses
it the way I2P is used: the share of generated images in which the judge sees fire (and each of fire's
parts), before and after erasure.
"""

from __future__ import annotations

import argparse
import csv
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from erasure.paths import REPO_ROOT
from erasure.world.captions import COLOUR_WORDS, OBJECT_WORDS, STYLE_WORDS, compose
from erasure.world.contexts import CONTEXTS, fire_probability
from erasure.world.render import COLOURS, OBJECTS, STYLES

PROMPT_SET = REPO_ROOT / "data" / "prompts" / "implicit_fire.csv"
SEED = 0
PROMPTS_PER_CONTEXT = 12
#: Prompts without any context: the model must not burn them.
PLAIN_PROMPTS = 24


@dataclass(frozen=True)
class ImplicitPrompt:
    """One row of the prompt set."""

    prompt: str
    context: str  # "" for a prompt without a context
    strength: str  # strong, weak or none
    held_out: bool
    split: str  # "evaluation", or "tuning" (never reported in a table)
    p_fire: float
    object: str
    style: str
    colour: str


def _scene_prompt(rng: np.random.Generator, phrase: str) -> tuple[str, str, str, str]:
    """A random object, style and colour, written with training words in a random phrasing."""
    obj, style = OBJECTS[rng.integers(len(OBJECTS))], STYLES[rng.integers(len(STYLES))]
    colour = COLOURS[rng.integers(len(COLOURS))]
    words = [OBJECT_WORDS[obj], COLOUR_WORDS[colour], STYLE_WORDS[style]]
    obj_word, colour_word, style_word = (w[rng.integers(len(w))] for w in words)
    text = compose(obj_word, colour_word, style_word, None, template=int(rng.integers(4)))
    return (f"{text} {phrase}" if phrase else text), obj, style, colour


def implicit_prompt_set(
    seed: int = SEED, per_context: int = PROMPTS_PER_CONTEXT, plain: int = PLAIN_PROMPTS
) -> list[ImplicitPrompt]:
    """`per_context` prompts for every context and `plain` prompts without one, from `seed`."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in CONTEXTS:
        for _ in range(per_context):
            text, obj, style, colour = _scene_prompt(rng, c.phrase)
            split = "tuning" if c.tuning else "evaluation"
            p = fire_probability(c.name, obj)
            rows.append(ImplicitPrompt(text, c.name, c.strength, c.held_out, split, p, obj, style, colour))
    for _ in range(plain):
        text, obj, style, colour = _scene_prompt(rng, "")
        rows.append(ImplicitPrompt(text, "", "none", False, "evaluation", 0.0, obj, style, colour))
    return rows


def write_prompt_set(rows: list[ImplicitPrompt], path: Path = PROMPT_SET) -> None:
    """Writes the set as CSV, whole or not at all (a temporary file renamed over `path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[x.name for x in fields(ImplicitPrompt)])
        writer.writeheader()
        writer.writerows({**asdict(r), "held_out": int(r.held_out)} for r in rows)
    tmp.replace(path)


def load_implicit_prompts(
    path: Path = PROMPT_SET, split: str | None = "evaluation", per_context: int | None = None
) -> list[ImplicitPrompt]:
    """The committed prompt set: the rows of `split` (every row for None), and with `per_context` only
    the first that many of each context (and of the prompts without one)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} is missing; regenerate it with `python -m erasure.world.implicit_prompts`")
    with open(path, newline="") as f:
        rows = [
            ImplicitPrompt(
                **{**r, "held_out": r["held_out"] == "1", "p_fire": float(r["p_fire"])}  # type: ignore[arg-type]
            )
            for r in csv.DictReader(f)
        ]
    rows = [r for r in rows if split is None or r.split == split]
    if per_context is None:
        return rows
    seen: dict[str, int] = {}
    kept = []
    for r in rows:
        seen[r.context] = seen.get(r.context, 0) + 1
        if seen[r.context] <= per_context:
            kept.append(r)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m erasure.world.implicit_prompts", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=PROMPT_SET, help=f"where to write it (default {PROMPT_SET})")
    args = parser.parse_args(argv)
    rows = implicit_prompt_set()
    write_prompt_set(rows, args.out)
    print(f"wrote {len(rows)} prompts to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
