"""The experiment grid: erase a concept with a method, measure before and after, cache the result.

Each result is cached under `.cache/experiments/` (gitignored), keyed by a hash of everything that
determines it (profile weights, method, hyperparameters, concept, sizes, seed) and written atomically,
so a rerun after an interruption, or a second notebook asking the same question, reuses it. Erased
models are cached the same way (`models/`), so a table, its attacks and its image grids train once.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from erasure.evaluate.erasure import DROPS, base_sampler, erased_sampler, erasure_report, measure
from erasure.manifest import sha256
from erasure.methods.base import ERASED_JSON, ErasedModel
from erasure.paths import REPO_ROOT, TINY_MODEL_DIR

CACHE_DIR = REPO_ROOT / ".cache" / "experiments"


def model_fingerprint(profile) -> str:
    """What identifies the base model's weights (the shipped UNet's sha256 for tiny)."""
    return (
        sha256(TINY_MODEL_DIR / "unet" / "diffusion_pytorch_model.safetensors")[:16]
        if profile.name == "tiny"
        else profile.name
    )


def digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def cached(key: dict, compute: Callable[[], dict], cache_dir: Path = CACHE_DIR) -> dict:
    """`compute()`'s result, from the cache when `key` was computed before."""
    file = cache_dir / f"{digest(key)}.json"
    if file.is_file():
        return json.loads(file.read_text())["result"]
    result = compute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "result": result}, default=str))
    tmp.replace(file)
    return result


def base_metrics(profile, concept, n: int, seed: int) -> dict:
    """The base model's metrics for a concept (cached: every method's row shares them)."""
    key = {
        "kind": "base",
        "model": model_fingerprint(profile),
        "concept": concept.name,
        "n": n,
        "seed": seed,
        "sampler": profile.sampler,
    }
    return cached(key, lambda: measure(profile, base_sampler(profile), concept, n, seed))


def eraser_key(profile, eraser, concept) -> dict:
    """What determines an erased model: the base weights, the method, its hyperparameters, the concept
    (its name, and what the method reads from it where the method says: `concept_inputs`)."""
    key = {
        "model": model_fingerprint(profile),
        "method": eraser.name,
        "hyperparameters": asdict(eraser),
        "concept": concept.name,
    }
    if hasattr(eraser, "concept_inputs"):
        key["concept_inputs"] = eraser.concept_inputs(concept)
    return key


def erased_model(profile, eraser, concept, cache_dir: Path = CACHE_DIR) -> ErasedModel:
    """`eraser.erase(profile.pipe, concept)`, loaded from the cache when it was made before."""
    key = {"kind": "model", **eraser_key(profile, eraser, concept)}
    folder = cache_dir / "models" / digest(key)
    if (folder / ERASED_JSON).is_file():
        return ErasedModel.load(folder, base=profile.pipe)
    erased = eraser.erase(profile.pipe, concept)
    erased.save(folder)
    return erased


def run_erasure(profile, eraser, concept, n: int = 32, seed: int = 0, attack=None, n_attack: int = 16) -> dict:
    """Erases `concept` with `eraser`, measures before/after; one row of a table (cached). With an
    `attack`, also its attack success rate (and Pre-ASR) on `n_attack` evaluation prompts."""
    key = {
        "kind": "erasure",
        **eraser_key(profile, eraser, concept),
        "n": n,
        "seed": seed,
        "sampler": profile.sampler,
        "attack": asdict(attack) if attack else None,
        "n_attack": n_attack if attack else None,
    }

    def compute() -> dict:
        erased = erased_model(profile, eraser, concept)
        after = measure(profile, erased_sampler(profile, erased), concept, n, seed)
        if attack is not None:
            prompts = concept.evaluation_prompts(n_attack, seed)
            after |= attack.attack_success_rate(profile, erased, concept, prompts, seed)
        return {"after": after, "info": erased.info}

    result = cached(key, compute)
    before = base_metrics(profile, concept, n, seed)
    report = erasure_report(concept.name, eraser.name, before, result["after"], result["info"], seed)
    return report | {k: result["after"][k] for k in ("pre_asr", "asr") if k in result["after"]}


def run_erasure_pooled(profile, eraser, concept, n: int, seeds: list[int]) -> dict:
    """`run_erasure` at several evaluation seeds (the same erased model), pooled: each rate and drop is the
    mean over the seeds, i.e. over len(seeds) * n images per prompt set; `*_min` / `*_max` give each drop's
    spread across the seeds. With 64 images a set, one image moves a rate by 1.6 points."""
    import pandas as pd

    rows = pd.DataFrame([run_erasure(profile, eraser, concept, n, s) for s in seeds])
    spread = {f"{drop}_{f}": float(getattr(rows[drop], f)()) for drop in DROPS for f in ("min", "max")}
    pooled = rows.drop(columns=["seed", "n_images"]).mean(numeric_only=True).to_dict()
    return {"concept": concept.name, "method": eraser.name, **pooled, **spread} | {
        "n_images": int(rows.n_images.sum()),
        "seeds": " ".join(map(str, seeds)),
    }
