"""The experiment grid: erase a concept with a method, measure before and after, store the result.

Every result and every erased model goes through the result store (`erasure.store`), keyed by everything
that determines it: the profile's assets (base model, judges, CLIP), the method and its hyperparameters,
the concept, sizes, seed and sampler, and the code that computes it. A rerun, or a second notebook asking
the same question, reuses it; a change to the code it ran recomputes it. Each function takes the store
to use (`store=`; default: `.cache/experiments/`, or `$ERASURE_STORE`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from erasure.evaluate.erasure import (
    DROPS,
    RATES,
    base_sampler,
    erased_sampler,
    erasure_report,
    measure,
    rate_intervals,
)
from erasure.fingerprint import pipeline_fingerprint
from erasure.manifest import MANIFEST
from erasure.methods.base import ERASED_JSON, ErasedModel
from erasure.paths import TINY_MODEL_DIR
from erasure.store import ResultStore, code_fingerprint


def assets_fingerprint(profile) -> str:
    """What identifies the profile's weights: the base pipeline's fingerprint and, on tiny, the sha256
    of every shipped file (the judges' and CLIP's included), as MANIFEST.json records them."""
    parts = [pipeline_fingerprint(profile.pipe)]
    if profile.name == "tiny":
        parts.append(json.loads((TINY_MODEL_DIR / MANIFEST).read_text())["files"])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def evaluation_modules(profile) -> list[str]:
    """The modules a measurement runs: `measure()` (and through its imports the sampler, the prompts,
    CLIP score) and the profile's judge."""
    return ["erasure.evaluate.erasure", type(profile.judge).__module__]


def base_metrics(profile, concept, n: int, seed: int, store: ResultStore | None = None) -> dict:
    """The base model's metrics for a concept (stored: every method's row shares them)."""
    store = store or ResultStore()
    key = {
        "kind": "base",
        "assets": assets_fingerprint(profile),
        "code": code_fingerprint(evaluation_modules(profile)),
        "concept": concept.name,
        "n": n,
        "seed": seed,
        "sampler": profile.sampler,
    }
    return store.result(key, lambda: measure(profile, base_sampler(profile), concept, n, seed))


def eraser_key(profile, eraser, concept) -> dict:
    """What determines an erased model: the profile's assets, the method, its code and hyperparameters,
    the concept (its name, and what the method reads from it where the method says: `concept_inputs`)."""
    key = {
        "assets": assets_fingerprint(profile),
        "method": eraser.name,
        "method_code": code_fingerprint([type(eraser).__module__]),
        "hyperparameters": asdict(eraser),
        "concept": concept.name,
    }
    if hasattr(eraser, "concept_inputs"):
        key["concept_inputs"] = eraser.concept_inputs(concept)
    return key


def erased_model(profile, eraser, concept, store: ResultStore | None = None) -> ErasedModel:
    """`eraser.erase(profile.pipe, concept)`, loaded from the store when it was made before."""
    store = store or ResultStore()
    folder = store.model_folder({"kind": "model", **eraser_key(profile, eraser, concept)})
    if (folder / ERASED_JSON).is_file():
        return ErasedModel.load(folder, base=profile.pipe)
    erased = eraser.erase(profile.pipe, concept)
    erased.save(folder)
    return erased


def run_erasure(
    profile, eraser, concept, n: int = 32, seed: int = 0, attack=None, n_attack: int = 16, store=None
) -> dict:
    """Erases `concept` with `eraser`, measures before/after; one row of a table (stored). With an
    `attack`, also its attack success rate (and Pre-ASR) on `n_attack` evaluation prompts."""
    store = store or ResultStore()
    modules = evaluation_modules(profile) + ([type(attack).__module__] if attack else [])
    key = {
        "kind": "erasure",
        **eraser_key(profile, eraser, concept),
        "code": code_fingerprint(modules),
        "n": n,
        "seed": seed,
        "sampler": profile.sampler,
        "attack": asdict(attack) if attack else None,
        "n_attack": n_attack if attack else None,
    }

    def compute() -> dict:
        erased = erased_model(profile, eraser, concept, store)
        after = measure(profile, erased_sampler(profile, erased), concept, n, seed)
        if attack is not None:
            prompts = concept.evaluation_prompts(n_attack, seed)
            after |= attack.attack_success_rate(profile, erased, concept, prompts, seed)
        return {"after": after, "info": erased.info}

    result = store.result(key, compute)
    before = base_metrics(profile, concept, n, seed, store)
    report = erasure_report(concept.name, eraser.name, before, result["after"], result["info"], seed)
    return report | {k: result["after"][k] for k in ("pre_asr", "asr") if k in result["after"]}


def run_erasure_pooled(profile, eraser, concept, n: int, seeds: list[int], store: ResultStore | None = None) -> dict:
    """`run_erasure` at several evaluation seeds (the same erased model), pooled: each rate and drop is the
    mean over the seeds (the seeds have equal image counts, so this is the pooled share), each rate's image
    count (`*_n`) the sum, and its 95% interval recomputed from the pooled share and count; `*_min` / `*_max`
    give each drop's spread across the seeds."""
    import pandas as pd

    rows = pd.DataFrame([run_erasure(profile, eraser, concept, n, s, store=store) for s in seeds])
    spread = {f"{drop}_{f}": float(getattr(rows[drop], f)()) for drop in DROPS for f in ("min", "max")}
    pooled = rows.drop(columns=["seed", "n_images"]).mean(numeric_only=True).to_dict()
    for rate in RATES:
        total = int(rows[f"{rate}_n"].sum())
        pooled |= rate_intervals(rate, pooled[f"{rate}_before"], pooled[f"{rate}_after"], total)
    return {"concept": concept.name, "method": eraser.name, **pooled, **spread} | {
        "n_images": int(rows.n_images.sum()),
        "seeds": " ".join(map(str, seeds)),
    }
