"""The experiment grid: erase a concept with a method, measure before and after, store the result.

Every result and every erased model goes through the result store (`erasure.store`), keyed by everything
that determines it: the profile's assets (base model, judges, CLIP), the method and its hyperparameters,
the concept, sizes, seed and sampler, and the code that computes it. A rerun, or a second notebook asking
the same question, reuses it; a change to the code it ran recomputes it. Each function takes the store
to use (`store=`; default: the committed `data/results/store/`, see `erasure.store`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from erasure.evaluate.clip_score import clip_cosines
from erasure.evaluate.erasure import (
    DROPS,
    RATES,
    base_sampler,
    erased_sampler,
    erasure_report,
    measure,
    rate_intervals,
)
from erasure.evaluate.fidelity import concept_activation, fidelity_summary, judge_attribute_prompts
from erasure.evaluate.implicit import JudgedImplicit, judge_implicit
from erasure.fingerprint import pipeline_fingerprint
from erasure.manifest import MANIFEST
from erasure.methods.base import ERASED_JSON, ErasedModel
from erasure.paths import TINY_MODEL_DIR
from erasure.store import ResultStore, code_fingerprint
from erasure.world.implicit_prompts import PROMPT_SET, load_implicit_prompts


def assets_fingerprint(profile) -> str:
    """What identifies the profile's weights: the base pipeline's fingerprint and, on tiny, the sha256
    of every shipped file (the judges' and CLIP's included), as MANIFEST.json records them."""
    parts = [pipeline_fingerprint(profile.pipe)]
    if profile.name == "tiny":
        parts.append(json.loads((TINY_MODEL_DIR / MANIFEST).read_text())["files"])
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def evaluation_modules(profile) -> list[str]:
    """The modules a measurement runs: `measure()` (and through its imports the sampler, the prompts,
    CLIP score), the profile's judge, and this module, which puts the results together."""
    return ["erasure.evaluate.erasure", type(profile.judge).__module__, __name__]


def stored(profile, kind: str, modules: list[str], params: dict, compute, store: ResultStore | None = None) -> dict:
    """`compute()`, stored under `kind`, `params`, the profile's assets and the code of `modules`."""
    store = store or ResultStore()
    key = {"kind": kind, "assets": assets_fingerprint(profile), "code": code_fingerprint(modules), **params}
    return store.result(key, compute, modules)


def base_metrics(profile, concept, n: int, seed: int, store: ResultStore | None = None) -> dict:
    """The base model's metrics for a concept (stored: every method's row shares them)."""
    params = {"concept": concept.name, "n": n, "seed": seed, "sampler": profile.sampler}
    return stored(
        profile,
        "base",
        evaluation_modules(profile),
        params,
        lambda: measure(profile, base_sampler(profile), concept, n, seed),
        store,
    )


def world_fidelity(profile, n: int, seed: int, store: ResultStore | None = None) -> dict:
    """The base model's judged fidelity on `n` attribute prompts and `n // 2` with fire asked for (stored):
    the summary, each image's prompted labels and judged heads (for the confusion matrices), and the tiny
    CLIP's cosine of each image to its own prompt and to the next image's prompt."""

    def compute() -> dict:
        plain = judge_attribute_prompts(profile, n, seed, progress=False)
        fire = judge_attribute_prompts(profile, n // 2, seed + 100_000, fire=True, progress=False)
        clip_model, tokenizer = profile.clip
        shuffled = [*plain.prompts[1:], plain.prompts[0]]
        return {
            "summary": fidelity_summary(plain, fire),
            "n_plain": len(plain.prompts),
            "n_fire": len(fire.prompts),
            "labels": plain.labels.tolist(),
            "pred": {head: values.tolist() for head, values in plain.pred.items()},
            "clip_matched": clip_cosines(clip_model, tokenizer, plain.images, plain.prompts).tolist(),
            "clip_shuffled": clip_cosines(clip_model, tokenizer, plain.images, shuffled).tolist(),
        }

    modules = ["erasure.evaluate.fidelity", "erasure.evaluate.clip_score", type(profile.judge).__module__, __name__]
    return stored(profile, "fidelity", modules, {"n": n, "seed": seed, "sampler": profile.sampler}, compute, store)


def world_activation(profile, n: int, seed: int, store: ResultStore | None = None) -> dict:
    """Per concept, its judged rate on its training words and on its held-out words, `n` images each
    (stored; `{"rows": [...]}`)."""
    modules = ["erasure.evaluate.fidelity", type(profile.judge).__module__, __name__]
    params = {"n": n, "seed": seed, "sampler": profile.sampler}
    return stored(
        profile, "activation", modules, params, lambda: {"rows": concept_activation(profile, n, seed, False)}, store
    )


def implicit_fire(
    profile, images_per_prompt: int, seed: int, eraser=None, concept=None, store: ResultStore | None = None
) -> JudgedImplicit:
    """Fire on the implicit prompt set's evaluation split (stored): the base model's, or with `eraser`
    and `concept` the erased model's. The key holds the prompt set's contents."""
    store = store or ResultStore()
    rows = load_implicit_prompts()
    modules = ["erasure.evaluate.implicit", type(profile.judge).__module__, __name__]
    params = {
        "prompt_set": hashlib.sha256(PROMPT_SET.read_bytes()).hexdigest()[:16],
        "images_per_prompt": images_per_prompt,
        "seed": seed,
        "sampler": profile.sampler,
        "model": eraser_key(profile, eraser, concept) if eraser else None,
    }
    if eraser:
        modules.append(type(eraser).__module__)

    def compute() -> dict:
        sample = erased_sampler(profile, erased_model(profile, eraser, concept, store)) if eraser else None
        return judge_implicit(profile, sample or base_sampler(profile), rows, images_per_prompt, seed).verdicts()

    verdicts = stored(profile, "implicit", modules, params, compute, store)
    return JudgedImplicit.from_verdicts(verdicts, rows, images_per_prompt)


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

    result = store.result(key, compute, [type(eraser).__module__, *modules])
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


def stored_eraser(key: dict):
    """The eraser a stored `erasure` entry's key describes (its method and hyperparameters)."""
    from erasure.methods import method_class  # here, not above: this module's code key must not hold every method

    cls = method_class(key["method"])
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in key["hyperparameters"].items()}
    return cls(**fields)


def recompute(profile, key: dict) -> dict:
    """A stored `base` or attack-free `erasure` entry's result computed afresh from its key alone, in a
    store of its own (to check that a committed store is what the code gives)."""
    import tempfile

    concept = profile.concepts[key["concept"]]
    with tempfile.TemporaryDirectory() as folder:
        store = ResultStore(folder)
        if key["kind"] == "base":
            return base_metrics(profile, concept, key["n"], key["seed"], store)
        if key["kind"] == "erasure" and key["attack"] is None:
            eraser = stored_eraser(key)
            if key.get("concept_inputs") != eraser_key(profile, eraser, concept).get("concept_inputs"):
                raise ValueError(
                    f"the entry erased a variant of {concept.name} (other prompt pairs), not the registry's"
                )
            run_erasure(profile, eraser, concept, key["n"], key["seed"], store=store)
            entries = [json.loads(f.read_text()) for f in Path(folder).glob("*.json")]
            return next(e["result"] for e in entries if e["key"]["kind"] == "erasure")
    raise ValueError(f"recompute handles base and attack-free erasure entries, not {key['kind']!r}")
