"""Robustness experiments: an attack of the suite on a model (an erased one, or the base model as the sanity
row), stored in the result store like every table's results (`erasure.experiments.stored`), keyed by the
attack's settings, the model (method, hyperparameters, concept), the prompt set, sizes, seed and code.

Two prompt sets:
- `attack`: the concept's evaluation prompts, attacked on an erased model; targets are the base model's images
  of the same prompts. A concept with fewer distinct prompts than asked (house has 30) repeats them, each repeat
  with its own image seed (a record is a (prompt, seed) pair, as in UnlearnDiffAtk's prompt sets);
- `power`: the same prompts with the concept's word replaced by another concept of its task (objects, styles)
  or taken out (fire), attacked on the *base* model with the original prompts' images as targets. The base
  model draws the concept there in none of the images (Pre-ASR 0%), so what an attack reaches is its power
  to put the concept into an image: an attack that cannot do this cannot tell an erased model from a robust one.
"""

from __future__ import annotations

from erasure.attacks.base import AttackRecords, Unerased
from erasure.evaluate.asr import asr_summary
from erasure.experiments import erased_model, eraser_key, stored
from erasure.store import ResultStore
from erasure.world.render import OBJECTS, STYLES

PROMPT_SETS = ("attack", "power")


def attack_prompts(concept, n: int, seed: int = 0) -> list[str]:
    """n of the concept's evaluation prompts, repeated in order where it has fewer (each repeat is attacked
    with its own image seed)."""
    prompts = concept.evaluation_prompts(n, seed)
    return [prompts[i % len(prompts)] for i in range(n)]


def power_prompts(concept, n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(attacked prompts, target prompts): the attack prompts with the concept's word replaced by the task's
    other concepts in turn (taken out, for the nudity stand-in), and the originals."""
    targets = attack_prompts(concept, n, seed)
    others = [o for o in {"object": OBJECTS, "style": STYLES}.get(concept.task, ()) if o != concept.name] or [""]
    word = concept.erase[0]
    prompts = [" ".join(p.replace(word, others[i % len(others)]).split()) for i, p in enumerate(targets)]
    return prompts, targets


def attack_modules(attack) -> list[str]:
    """The code an attack result runs: the attack, the judge of the profile, this module."""
    return [type(attack).__module__, "erasure.evaluate.judges", __name__]


def run_attack(
    profile,
    attack,
    concept,
    eraser=None,
    n: int = 32,
    seed: int = 0,
    prompt_set: str = "attack",
    store: ResultStore | None = None,
) -> dict:
    """`attack` on the erased model of `eraser` (None: the base model) for `concept`, on `n` prompts of
    `prompt_set` (stored): {"summary": ASR, Pre-ASR, intervals, n; "records": the records as a dict}."""
    if prompt_set not in PROMPT_SETS:
        raise ValueError(f"unknown prompt set {prompt_set!r}; choose one of {', '.join(PROMPT_SETS)}")
    store = store or ResultStore()
    model = eraser_key(profile, eraser, concept) if eraser is not None else {"method": "base", "concept": concept.name}
    params = {"attack": attack.name, "settings": attack.settings(), **model, "prompt_set": prompt_set}
    params |= {"n": n, "seed": seed, "sampler": profile.sampler}
    modules = attack_modules(attack) + ([type(eraser).__module__] if eraser is not None else [])

    def compute() -> dict:
        target = erased_model(profile, eraser, concept, store) if eraser is not None else Unerased(profile.pipe)
        if prompt_set == "power":
            prompts, targets = power_prompts(concept, n, seed)
        else:
            prompts = targets = attack_prompts(concept, n, seed)
        records = attack.run(profile, target, concept, prompts, seed, targets)
        return {"summary": asr_summary(records), "records": records.to_dict()}

    return stored(profile, "attack", modules, params, compute, store)


def records_of(result: dict) -> AttackRecords:
    """The attack records of a `run_attack` result."""
    return AttackRecords.from_dict(result["records"])
