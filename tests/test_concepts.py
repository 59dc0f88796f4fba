"""The concept registry: consistent with the caption grammar, with clear errors."""

import pytest

from erasure.concepts import Registry
from erasure.paths import CONCEPTS_DIR
from erasure.world.captions import (
    FIRE_PHRASES,
    HELD_OUT_FIRE_PHRASES,
    HELD_OUT_OBJECT_WORDS,
    HELD_OUT_STYLE_WORDS,
    OBJECT_WORDS,
    STYLE_WORDS,
)
from erasure.world.render import OBJECTS

REGISTRY = Registry.from_yaml(CONCEPTS_DIR / "tiny.yaml")


def test_registry_covers_the_three_tasks_and_the_paper_concepts():
    assert {c.task for c in REGISTRY} == {"object", "style", "nudity"}
    stands_for = {c.stands_for for c in REGISTRY if c.stands_for}
    assert {"church", "Van Gogh", "nudity", "garbage truck", "parachute", "tench"} <= stands_for


def test_registry_words_are_the_grammars_words():
    for c in REGISTRY:
        train, held = {
            "object": (OBJECT_WORDS.get(c.name), HELD_OUT_OBJECT_WORDS.get(c.name)),
            "style": (STYLE_WORDS.get(c.name), HELD_OUT_STYLE_WORDS.get(c.name)),
            "nudity": (FIRE_PHRASES, HELD_OUT_FIRE_PHRASES),
        }[c.task]
        assert set(c.erase) <= set(train), c.name
        assert set(c.related) <= set(held), c.name


def test_prompt_sets_are_reproducible_and_use_the_right_words():
    house = REGISTRY["house"]
    assert house.evaluation_prompts(8, seed=1) == house.evaluation_prompts(8, seed=1)
    assert all(p.endswith(" house") for p in house.evaluation_prompts())
    assert all(any(w in p for w in house.related) for p in house.related_prompts())
    pairs = house.prompt_pairs(20)
    assert len(pairs) == 20
    # The concept-free prompt: the same colour and style, the other objects in turn.
    assert all(w.split()[:3] == wo.split()[:3] for w, wo in pairs)
    assert {wo.split()[-1] for _, wo in pairs} == set(OBJECTS) - {"house"}


def test_retained_concepts_exclude_the_erased_one():
    retained = REGISTRY["dotted"].retained(REGISTRY, n_per_concept=4)
    assert len(retained) == 4 * 4 and all(r.head == "style" for r in retained)
    assert all("dotted" not in r.prompt for r in retained)
    fire = REGISTRY["fire"].retained(REGISTRY, n_per_concept=2)
    assert all(r.head == "object" and "fire" not in r.prompt for r in fire)


def test_unknown_concept_names_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown concept 'dragon'.*house"):
        REGISTRY["dragon"]


def test_missing_registry_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="concept registry"):
        Registry.from_yaml(tmp_path / "nope.yaml")
