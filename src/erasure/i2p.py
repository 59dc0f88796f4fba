"""I2P on the sd14 profile: nudity from prompts that never ask for it (the papers' implicit-prompt table).

Each prompt of I2P (Schramowski et al., CVPR 2023: 4,703 prompts, or those of some of its categories) is
generated once, with the seed and guidance scale its file gives, by the base model or an erased one; NudeNet's
detections are then counted under both conventions (`evaluate.nudenet.CONVENTIONS`): the share of nude images
and, per exposed class, the number of images showing it, as the ActErase, MACE and RECE nudity tables report
them. Stored per model. The tiny world's analogue is `experiments.implicit_fire` (fire and its parts).

A prompt's own seed means one image per call (`pipeline.generate` seeds image i with `seed + i`), as the
papers' scripts generate I2P.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from erasure.evaluate.intervals import wilson
from erasure.evaluate.nudenet import CONVENTIONS, NUDE_CLASSES, NudeNetJudge, nudity_report
from erasure.experiments import erased_model, eraser_key, stored
from erasure.pipeline import generate
from erasure.prompt_sets import Prompt, load_prompt_set, prompts_folder
from erasure.store import ResultStore
from erasure.tables import percent_with_interval


def i2p_prompts(profile, categories: tuple[str, ...] = (), limit: int | None = None, folder=None) -> list[Prompt]:
    """I2P's prompts (those with one of `categories`, e.g. ("sexual",), if given), the first `limit` of them.
    Read from `folder` (default: the prompt-set folder), never downloaded here; on an sd14 smoke run without the
    file, the nudity concept's template prompts stand in (said once)."""
    folder = folder or prompts_folder()
    if profile.smoke and not (folder / "i2p.csv").is_file():
        print(f"sd14 smoke run: I2P is not in {folder}; the nudity concept's template prompts stand in for it.")
        texts = profile.concepts["nudity"].template_prompts(limit or 2, 0)
        return [Prompt(prompt=t, seed=i, guidance=None, case=str(i)) for i, t in enumerate(texts)]
    prompts = load_prompt_set("i2p", folder, fetch=False)
    if categories:
        wanted = set(categories)
        prompts = [p for p in prompts if wanted & {c.strip() for c in p.extra.get("categories", "").split(",")}]
    return prompts[:limit] if limit else prompts


def i2p_images(profile, prompts: list[Prompt], erased=None, progress: bool = True) -> np.ndarray:
    """One image per prompt, with its own seed and guidance (the profile's where the file gives none), from the
    base model (`erased=None`) or an erased model."""
    images = []
    for p in tqdm(prompts, desc="I2P", disable=not progress, leave=False):
        sampler = {**profile.sampler, "guidance_scale": p.guidance or profile.sampler["guidance_scale"]}
        if erased is None:
            images.append(generate(profile.pipe, [p.prompt], seed=p.seed, progress=False, **sampler))
        else:
            images.append(erased([p.prompt], seed=p.seed, progress=False, **sampler))
    return np.concatenate(images)


def prompts_digest(prompts: list[Prompt]) -> str:
    """What of the prompts determines the images: their texts, seeds and guidance scales."""
    text = json.dumps([[p.prompt, p.seed, p.guidance] for p in prompts])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def i2p_nudity(profile, prompts: list[Prompt], eraser=None, concept=None, store: ResultStore | None = None) -> dict:
    """NudeNet's report on `prompts`' images under each convention, by convention name (stored): the base
    model's, or with `eraser` and `concept` the erased model's."""
    modules = ["erasure.evaluate.nudenet", __name__] + ([type(eraser).__module__] if eraser else [])
    params = {
        "model": eraser_key(profile, eraser, concept) if eraser else None,
        "prompts": prompts_digest(prompts),
        "n": len(prompts),
        "sampler": profile.sampler,
    }

    def compute() -> dict:
        erased = erased_model(profile, eraser, concept, store) if eraser else None
        detections = NudeNetJudge().detect(i2p_images(profile, prompts, erased))
        return {name: nudity_report(detections, c) for name, c in CONVENTIONS.items()}

    return stored(profile, "i2p_nudity", modules, params, compute, store)


def i2p_row(report: dict, counted: str = "rece") -> dict:
    """A table row: the nude share under each convention in percent with its 95% interval, then the number of
    images showing each exposed class under `counted` (the RECE/MACE convention, > 0.6, by default)."""
    row = {"images": report[counted]["n_images"]}
    for r in report.values():
        row[f"nude % (> {r['threshold']})"] = percent_with_interval(
            r["nudity_rate"], *wilson(r["nudity_rate"], r["n_images"])
        )
    return row | {c.removesuffix("_EXPOSED").lower(): report[counted]["per_class"][c] for c in NUDE_CLASSES}


def i2p_table(profile, methods: dict, concept: str, prompts: list[Prompt], store=None) -> pd.DataFrame:
    """`i2p_row` for the base model, then for each method after erasing `concept`."""
    c = profile.concepts[concept]
    rows = [{"method": "base model", **i2p_row(i2p_nudity(profile, prompts, store=store))}]
    rows += [{"method": label, **i2p_row(i2p_nudity(profile, prompts, e, c, store))} for label, e in methods.items()]
    return pd.DataFrame(rows)
