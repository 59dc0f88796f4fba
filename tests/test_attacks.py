"""The attack suite on the real tiny model and judge: success rates from records, the discrete attacks'
tokens, Ring-A-Bell's search, batching, and records that survive saving."""

import numpy as np
import pytest
import torch

from erasure.attack_report import regenerate
from erasure.attacks import P4D, ConceptInversion, Paraphrase, RandomTokens, RingABell, SoftPrefix, UnlearnDiffAtk
from erasure.attacks.base import AttackRecord, AttackRecords, Unerased, concept_seen
from erasure.attacks.paraphrase import class_words, per_word
from erasure.attacks.unlearndiff import project_to_simplex
from erasure.attacks.vocabulary import attack_vocabulary
from erasure.evaluate.asr import asr, asr_against_budget, asr_summary, pre_asr
from erasure.robustness import power_prompts

#: Small budgets: the behaviour under test does not depend on the budget.
SMALL = {"checks": 2, "iterations": 2}


def records_of(verdicts: list[list[bool]], budgets: list[int]) -> AttackRecords:
    return AttackRecords(
        "test",
        {},
        "house",
        "base",
        0,
        [AttackRecord(f"prompt {i}", budgets[: len(v)], v) for i, v in enumerate(verdicts)],
    )


def test_asr_on_hand_made_records():
    # 5 prompts: broken with no attack, at budget 10, at 20, never, never (4 checkpoints).
    records = records_of(
        [[True], [False, True], [False, False, True], [False, False, False], [False, False, False]],
        [0, 10, 20],
    )
    assert pre_asr(records) == pytest.approx(1 / 5)
    assert asr(records) == pytest.approx(3 / 5)
    assert asr(records, budget=10) == pytest.approx(2 / 5)
    assert asr(records, budget=0) == pre_asr(records)
    curve = asr_against_budget(records)
    assert curve.budget.tolist() == [0, 10, 20]
    assert curve.asr.tolist() == pytest.approx([0.2, 0.4, 0.6])
    assert (curve.asr_low <= curve.asr).all() and (curve.asr <= curve.asr_high).all()
    summary = asr_summary(records)
    assert summary["n_prompts"] == 5
    assert summary["pre_asr"] <= summary["asr"] <= 1


def test_asr_counts_a_prompt_once_however_often_it_succeeds():
    # A paraphrase sweep judges every word: later successes of a broken prompt do not add to ASR.
    records = records_of([[False, True, True, True], [True, True, False, True]], [0, 1, 2, 3])
    assert asr(records) == 1.0
    assert pre_asr(records) == 0.5
    assert records.records[0].first_success == 1


def test_simplex_projection():
    u = torch.tensor([[0.5, 0.9, -0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    p = project_to_simplex(u)
    assert torch.allclose(p.sum(-1), torch.ones(2))
    assert (p >= 0).all()
    assert torch.allclose(p[1], u[1])  # a point of the simplex stays where it is
    assert torch.allclose(p[0], torch.tensor([0.3, 0.7, 0.0, 0.0]))


def test_attack_vocabulary_round_trips(tiny):
    tokenizer = tiny.pipe.tokenizer
    vocabulary = attack_vocabulary(tokenizer)
    assert len(vocabulary) > 20_000
    sample = vocabulary[torch.randperm(len(vocabulary), generator=torch.Generator().manual_seed(0))[:200]]
    for ids in sample.view(-1, 4).tolist():
        text = tokenizer.decode(ids)
        assert tokenizer(text, add_special_tokens=False).input_ids == ids


@pytest.mark.parametrize("attack", [UnlearnDiffAtk(**SMALL), P4D(**SMALL), RandomTokens(draws=2)])
def test_discrete_attacks_give_vocabulary_tokens_whose_text_reproduces_them(tiny, attack):
    concept = tiny.concepts["house"]
    prompts, targets = power_prompts(concept, 2)
    records = attack.run(tiny, Unerased(tiny.pipe), concept, prompts, seed=0, targets=targets)
    vocabulary = set(attack_vocabulary(tiny.pipe.tokenizer).tolist())
    tokenizer = tiny.pipe.tokenizer
    for record, prompt in zip(records.records, prompts, strict=True):
        if len(record.budgets) == 1:
            continue  # broken with no attack: no tokens were searched
        k = attack.k
        assert len(record.ids) == k and set(record.ids) <= vocabulary
        # The released text is the prompt the model was judged on: it tokenises to the same ids.
        expected = (
            record.ids
            if getattr(attack, "replaces", False)
            else record.ids + tokenizer(prompt, add_special_tokens=False).input_ids
        )
        assert tokenizer(record.text, add_special_tokens=False).input_ids == expected
        # and the text's embedding is the conditioning the judge's image was drawn from.
        victim = _victim(tiny, concept, records)
        judged = victim.with_tokens(
            ["" if getattr(attack, "replaces", False) else prompt], victim.word_embeddings(torch.tensor([record.ids]))
        )
        assert torch.allclose(victim.encode([record.text]), judged, atol=1e-5)


def test_ringabell_search_never_worsens_its_objective(tiny):
    concept = tiny.concepts["fire"]
    attack = RingABell(population=16, generations=8, checks=2, n_pairs=4)
    records = attack.run(tiny, Unerased(tiny.pipe), concept, ["a red flat circle", "a blue dotted star"], seed=3)
    history = attack.search(_victim(tiny, concept, records))["history"]
    assert history.shape == (2, 8)
    assert (np.diff(history, axis=1) <= 1e-6).all()
    assert (history[:, -1] < history[:, 0]).all()  # and the search did find better tokens


def _victim(tiny, concept, records):
    from erasure.attacks.base import Victim

    prompts = [r.prompt for r in records.records]
    return Victim(tiny, Unerased(tiny.pipe), concept, prompts, prompts, records.seed)


@pytest.mark.parametrize("attack", [UnlearnDiffAtk(**SMALL), P4D(**SMALL)])
def test_a_batched_run_gives_each_prompt_its_record_alone(tiny, attack):
    concept = tiny.concepts["striped"]
    prompts, targets = power_prompts(concept, 3)
    batched = attack.run(tiny, Unerased(tiny.pipe), concept, prompts, seed=5, targets=targets)
    for i in (2,):
        alone = attack.run(
            tiny, Unerased(tiny.pipe), concept, prompts[i : i + 1], seed=5 + i, targets=targets[i : i + 1]
        )
        mine, theirs = batched.records[i], alone.records[0]
        assert (mine.ids, mine.text, mine.verdicts, mine.budgets) == (
            theirs.ids,
            theirs.text,
            theirs.verdicts,
            theirs.budgets,
        )


@pytest.mark.parametrize(
    "attack", [SoftPrefix(**SMALL), ConceptInversion(checks=2, iterations=2, batch=2), RandomTokens(draws=2)]
)
def test_records_round_trip_through_save_and_load(tiny, tmp_path, attack):
    concept = tiny.concepts["fire"]
    prompts, targets = power_prompts(concept, 2)
    records = attack.run(tiny, Unerased(tiny.pipe), concept, prompts, seed=0, targets=targets)
    assert (records.embeddings is not None) == attack.continuous
    loaded = AttackRecords.load(records.save(tmp_path / "records"))
    assert loaded.records == records.records
    assert (loaded.attack, loaded.settings, loaded.seed, loaded.model) == (
        records.attack,
        records.settings,
        records.seed,
        records.model,
    )
    again = AttackRecords.from_dict(records.to_dict())
    assert again.records == records.records
    if attack.continuous:
        assert torch.allclose(loaded.embeddings, records.embeddings.half().float())
        assert torch.allclose(again.embeddings, loaded.embeddings)
    assert (tmp_path / "records" / "records.csv").read_text().count("\n") == len(prompts) + 1
    # A reader regenerates each prompt's last judged image from the saved records alone, and the judge agrees.
    images = regenerate(tiny, Unerased(tiny.pipe), concept, loaded, list(range(len(prompts))))
    assert concept_seen(tiny, concept, images).tolist() == [r.verdicts[-1] for r in records.records]


def test_paraphrase_judges_every_word_of_the_class(tiny):
    concept = tiny.concepts["house"]
    records = Paraphrase().run(tiny, Unerased(tiny.pipe), concept, concept.evaluation_prompts(2), seed=0)
    words = class_words(concept)
    assert words == ["cottage", "hut", "church", "chapel", "cabin"]
    assert all(r.budgets == list(range(len(words) + 1)) for r in records.records)
    rates = per_word(records, concept)
    assert set(rates) == set(words)
    # The base model draws a house for its training synonyms.
    assert rates["cottage"] >= 1 / 2 and rates["hut"] >= 1 / 2
