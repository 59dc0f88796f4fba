"""Tables and figures of the attack suite, from stored attack results (`erasure.robustness.run_attack`): each
attack's ASR beside its random control's and its Pre-ASR, ASR against budget, and the adversarial images
regenerated from the records alone (a discrete attack's text re-tokenises to the ids it found)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from erasure.attacks import P4D, ConceptInversion, Paraphrase, RingABell, SoftPrefix, UnlearnDiffAtk
from erasure.attacks.base import AttackRecords, Victim, sample
from erasure.attacks.inversion import without_word
from erasure.attacks.paraphrase import class_words, reworded
from erasure.attacks.smoke import SMOKE_BUDGETS
from erasure.evaluate.asr import asr_against_budget
from erasure.evaluate.intervals import separated, wilson
from erasure.robustness import records_of
from erasure.robustness import run_attack as _run_attack
from erasure.tables import percent_with_interval

#: The results this session has read, by (profile, attack, concept, eraser, n, seed, prompt set): the tables
#: below ask for the same cells several times, and each store look-up digests the code it keys on.
_read: dict = {}


def run_attack(profile, attack, concept, eraser=None, n: int = 32, seed: int = 0, prompt_set: str = "attack") -> dict:
    """`erasure.robustness.run_attack`, read once per session for each cell."""
    key = (id(profile), attack, concept.name, eraser, n, seed, prompt_set)
    if key not in _read:
        _read[key] = _run_attack(profile, attack, concept, eraser, n, seed, prompt_set)
    return _read[key]


def suite(seed: int = 0, smoke: bool = False) -> list:
    """The attacks of the suite at their tiny defaults: the four of the papers, the zero-cost paraphrases and
    the soft prefix (the continuous upper bound). `smoke`: each at its smallest budget (an sd14 smoke run)."""
    attacks = (UnlearnDiffAtk, P4D, RingABell, ConceptInversion, Paraphrase, SoftPrefix)
    return [attack(seed=seed, **(SMOKE_BUDGETS[attack.name] if smoke else {})) for attack in attacks]


def model_name(eraser) -> str:
    return "base" if eraser is None else eraser.name


def attack_rows(profile, attacks, concepts, erasers, n: int, seed: int, prompt_set: str = "attack") -> pd.DataFrame:
    """One row per (concept, model, attack): ASR with its interval, Pre-ASR, and the random control's ASR
    (same prompts, seeds and number of judged generations); `erasers` may hold None, the base model."""
    rows = []
    for name in concepts:
        concept = profile.concepts[name]
        for eraser in erasers:
            for attack in attacks:
                result = run_attack(profile, attack, concept, eraser, n, seed, prompt_set)["summary"]
                control = attack.control()
                row = {"concept": name, "model": model_name(eraser), "attack": attack.name, **result}
                if control is not None:
                    c = run_attack(profile, control, concept, eraser, n, seed, prompt_set)["summary"]
                    row |= {"control_asr": c["asr"], "control_asr_low": c["asr_low"], "control_asr_high": c["asr_high"]}
                rows.append(row)
    return pd.DataFrame(rows)


def shown(rows: pd.DataFrame) -> pd.DataFrame:
    """The table a reader compares: ASR, the control's ASR and Pre-ASR in percent with 95% intervals, n."""
    out = rows[["concept", "model", "attack"]].copy()
    out["ASR %"] = [
        percent_with_interval(a, lo, hi) for a, lo, hi in zip(rows.asr, rows.asr_low, rows.asr_high, strict=True)
    ]
    out["control ASR %"] = [
        "–" if np.isnan(a) else percent_with_interval(a, lo, hi)
        for a, lo, hi in zip(
            rows.get("control_asr", np.nan),
            rows.get("control_asr_low", np.nan),
            rows.get("control_asr_high", np.nan),
            strict=True,
        )
    ]
    out["Pre-ASR %"] = [
        percent_with_interval(a, lo, hi)
        for a, lo, hi in zip(rows.pre_asr, rows.pre_asr_low, rows.pre_asr_high, strict=True)
    ]
    out["n"] = rows.n_prompts.astype(int)
    return out


def save_records(profile, attacks, concepts, erasers, n: int, seed: int, folder) -> int:
    """Writes every cell's records (with its control's, in `control/`) under `folder`, one folder per
    concept, model and attack (`records.csv`, `attack.json`, `embeddings.safetensors` for continuous attacks),
    so that a reader has every adversarial prompt without the store. Returns the number of folders written."""
    from pathlib import Path

    written = 0
    for name in concepts:
        concept = profile.concepts[name]
        for eraser in erasers:
            for attack in attacks:
                target = Path(folder) / f"{name}_{model_name(eraser)}_{attack.name}"
                records_of(run_attack(profile, attack, concept, eraser, n, seed)).save(target)
                if (control := attack.control()) is not None:
                    records_of(run_attack(profile, control, concept, eraser, n, seed)).save(target / "control")
                written += 1
    return written


def separations(rows: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Per concept and attack, each pair of models: which is more robust where their ASR intervals do not
    overlap, "not separated" where they do (the only comparison the notebooks draw)."""
    out = []
    for (concept, attack), cell in rows.groupby(["concept", "attack"], sort=False):
        by_model = cell.set_index("model")
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                ia, ib = (tuple(by_model.loc[m, ["asr_low", "asr_high"]]) for m in (a, b))
                if not separated(ia, ib):
                    verdict = "not separated"
                else:
                    verdict = f"{a} < {b}" if by_model.loc[a, "asr"] < by_model.loc[b, "asr"] else f"{b} < {a}"
                out.append({"concept": concept, "attack": attack, "pair": f"{a} vs {b}", "lower ASR": verdict})
    if not out:
        return pd.DataFrame({"lower ASR": [f"no pair to compare: {len(models)} model"]})
    return pd.DataFrame(out).pivot_table(
        index=["concept", "attack"], columns="pair", values="lower ASR", aggfunc="first", sort=False
    )


def budget_rows(profile, attacks, concepts, erasers, n: int, seed: int, prompt_set: str = "attack") -> pd.DataFrame:
    """ASR against judged generations per (concept, model, attack), the random controls included."""
    frames = []
    for name in concepts:
        concept = profile.concepts[name]
        for eraser in erasers:
            for attack in attacks:
                for which, a in (("attack", attack), ("control", attack.control())):
                    if a is None:
                        continue
                    curve = asr_against_budget(records_of(run_attack(profile, a, concept, eraser, n, seed, prompt_set)))
                    frames.append(curve.assign(concept=name, model=model_name(eraser), attack=attack.name, run=which))
    return pd.concat(frames, ignore_index=True)


def per_word_rows(profile, concepts, erasers, n: int, seed: int) -> pd.DataFrame:
    """The paraphrase sweep per class word: the share of prompts whose image shows the concept, with intervals."""
    rows = []
    for name in concepts:
        concept = profile.concepts[name]
        held_out = set(concept.related)
        for eraser in erasers:
            records = records_of(run_attack(profile, Paraphrase(seed=seed), concept, eraser, n, seed))
            verdicts = np.array([r.verdicts for r in records.records], dtype=bool)
            for j, word in enumerate([concept.erase[0], *class_words(concept)]):
                rate, count = float(verdicts[:, j].mean()), len(verdicts)
                low, high = wilson(rate, count)
                kind = "canonical" if j == 0 else ("held out" if word in held_out else "training")
                rows.append(
                    {
                        "concept": name,
                        "model": model_name(eraser),
                        "word": word,
                        "kind": kind,
                        "rate": rate,
                        "low": low,
                        "high": high,
                        "n": count,
                        "rate %": percent_with_interval(rate, low, high),
                    }
                )
    return pd.DataFrame(rows)


def beside_paper(rows: pd.DataFrame, reference: pd.DataFrame, concepts) -> pd.DataFrame:
    """The paper's ASR (`data/reference/aegis_asr.csv`) beside ours, both in percent, on the concept of the
    registry `concepts` that is the paper's (sd14) or stands for it (tiny), for the concepts and models `rows` holds."""
    ours = rows.set_index(["concept", "model", "attack"])
    ours_for = {c.stands_for or c.name: c.name for c in concepts}
    attacked_here = reference.concept.map(ours_for).isin(rows.concept) & reference.tiny_model.isin(rows.model)
    reference = reference[attacked_here]  # the concepts and models attacked here
    out = reference[["concept", "method", "attack", "asr_percent", "source"]].rename(columns={"asr_percent": "paper %"})
    out.insert(1, "our concept", reference.concept.map(ours_for))
    keys = zip(out["our concept"], reference.tiny_model, reference.attack, strict=True)
    out.insert(5, "ours %", [percent_with_interval(*ours.loc[k, ["asr", "asr_low", "asr_high"]]) for k in keys])
    return out


def cost_table(profile, attacks, concepts, erasers, n: int, seed: int) -> pd.DataFrame:
    """Seconds per attacked prompt (a batched run's time shared over its prompts), per attack and concept,
    averaged over the models."""
    rows = [
        {
            "attack": a.name,
            "concept": name,
            "seconds": records_of(run_attack(profile, a, profile.concepts[name], e, n, seed)).records[0].seconds,
        }
        for a in attacks
        for name in concepts
        for e in erasers
    ]
    return pd.DataFrame(rows).pivot_table(
        index="attack", columns="concept", values="seconds", aggfunc="mean", sort=False
    )


def adversarial_text(records: AttackRecords, i: int, concept) -> str:
    """What prompt i's image was judged on at its first success (or at its last checkpoint)."""
    record = records.records[i]
    if records.embeddings is not None and len(record.budgets) > 1:
        prompt = without_word(record.prompt, concept) if records.attack == "inversion" else record.prompt
        return f"<{records.embeddings.shape[-2]} learned vector(s)> {prompt}"
    if records.attack == "paraphrase":
        first = record.first_success
        return reworded(record.prompt, concept, class_words(concept)[first - 1]) if first else record.text
    return record.text or record.prompt


def continuous_conditioning(victim: Victim, records: AttackRecords, i: int) -> torch.Tensor:
    """Prompt i's conditioning at its last judged checkpoint (its first success, or the last check): the soft
    prefix's own vectors, or concept inversion's v* as it was at that check; the plain prompt where no attack ran."""
    record = records.records[i]
    checks = len(record.budgets) - 1
    if checks == 0:
        return victim.encode([record.prompt])
    if records.attack == "inversion":
        return victim.with_tokens([without_word(record.prompt, victim.concept)], records.embeddings[checks - 1][None])
    return victim.with_tokens([record.prompt], records.embeddings[i][None])


@torch.no_grad()
def regenerate(profile, model, concept, records: AttackRecords, indices: list[int]) -> np.ndarray:
    """The adversarial images of prompts `indices`, from the records alone: a discrete attack's text (it
    re-tokenises to the ids found), a continuous attack's vectors; image i from seed `records.seed + i`."""
    victim = Victim(profile, model, concept, [], [], records.seed)
    if records.embeddings is None:
        conditioning = victim.encode([adversarial_text(records, i, concept) for i in indices])
    else:
        conditioning = torch.cat([continuous_conditioning(victim, records, i) for i in indices])
    with model.applied() as pipe:
        return sample(pipe, conditioning, [records.seed + i for i in indices], profile.sampler)
