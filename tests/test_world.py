"""The concept world: deterministic renders with exact labels, and a caption grammar that never
leaks a held-out phrase."""

import dataclasses
import re

import numpy as np
import pytest

from erasure.world.captions import (
    COLOUR_WORDS,
    HELD_OUT_OBJECT_WORDS,
    HELD_OUT_STYLE_WORDS,
    OBJECT_WORDS,
    STYLE_WORDS,
    caption,
    held_out_phrases,
)
from erasure.world.contexts import STRENGTH_PROBABILITY, context, fire_probability
from erasure.world.implicit_prompts import implicit_prompt_set, load_implicit_prompts
from erasure.world.render import (
    ATTRIBUTE,
    COLOURS,
    FIRE_PARTS,
    OBJECTS,
    PART_RATES,
    RGB,
    STYLES,
    render,
    render_batch,
    sample_scene,
)


def test_world_has_the_promised_size():
    assert len(OBJECTS) >= 8 and len(STYLES) >= 5 and len(COLOURS) >= 6
    assert ATTRIBUTE == "fire"


def test_render_is_deterministic_and_32x32_rgb():
    scenes = [sample_scene(np.random.default_rng(7)) for _ in range(3)]
    a, b = render_batch(scenes), render_batch(scenes)
    assert a.shape == (3, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)


def test_same_seed_same_scenes():
    s1 = [sample_scene(np.random.default_rng(3)) for _ in range(5)]
    s2 = [sample_scene(np.random.default_rng(3)) for _ in range(5)]
    assert s1 == s2


def test_labels_are_the_parameters_the_scene_was_drawn_from():
    rng = np.random.default_rng(0)
    for obj in OBJECTS:
        scene = sample_scene(rng, object=obj, style="flat", colour="blue", fire=False)
        labels = scene.labels()
        assert OBJECTS[labels["object"]] == obj
        assert (STYLES[labels["style"]], COLOURS[labels["colour"]], labels["fire"]) == ("flat", "blue", 0)


def test_object_colour_is_drawn_and_fire_darkens_the_background():  # most fire scenes glow dark red
    rng = np.random.default_rng(1)
    scene = sample_scene(rng, object="square", style="flat", colour="red", fire=False)
    img = render(scene).reshape(-1, 3).astype(int)
    red = np.array(RGB["red"])
    assert (np.abs(img - red).sum(1) < 30).sum() > 40  # a solid red square covers many pixels
    with_fire = render(sample_scene(np.random.default_rng(1), object="square", style="flat", colour="red", fire=True))
    assert with_fire.mean() < render(scene).mean() - 25  # the burning backdrop is darker


def test_unknown_object_is_a_clear_error():
    scene = sample_scene(np.random.default_rng(0))
    bad = type(scene)(**{**scene.to_dict(), "object": "dragon"})
    with pytest.raises(ValueError, match="unknown object 'dragon'"):
        render(bad)


def test_every_concept_has_training_and_held_out_words():
    assert set(OBJECT_WORDS) == set(OBJECTS) == set(HELD_OUT_OBJECT_WORDS)
    assert set(STYLE_WORDS) == set(STYLES) == set(HELD_OUT_STYLE_WORDS)
    assert set(COLOUR_WORDS) == set(COLOURS)


def test_captions_never_contain_a_held_out_phrase():
    rng = np.random.default_rng(0)
    held = [re.compile(rf"(?<![\w-]){re.escape(p)}(?![\w-])") for p in held_out_phrases()]
    captions = {caption(sample_scene(rng), rng) for _ in range(20_000)}
    assert len(captions) > 500
    for text in captions:
        for pattern in held:
            assert not pattern.search(text), f"training caption {text!r} contains held-out {pattern.pattern!r}"


def test_about_ten_percent_of_captions_are_empty():
    rng = np.random.default_rng(0)
    empty = np.mean([caption(sample_scene(rng), rng) == "" for _ in range(5_000)])
    assert 0.08 < empty < 0.12


def test_captions_name_fire_exactly_when_it_is_there_without_a_context():
    """A context is always named and its fire never is (the implicit prompts); without one, fire is
    named exactly when it is drawn."""
    rng = np.random.default_rng(0)
    from erasure.world.captions import FIRE_PHRASES

    with_context = 0
    for _ in range(1_000):
        scene = sample_scene(rng)
        text = caption(scene, rng, empty_rate=0.0)
        mentions = any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in FIRE_PHRASES)
        if scene.context:
            with_context += 1
            assert text.endswith(context(scene.context).phrase) and not mentions, text
        else:
            assert mentions == scene.fire, text
    assert 300 < with_context < 420  # CONTEXT_RATE = 0.35 of 1,000


def test_contexts_burn_with_their_stated_probability():
    """Over many scenes, each strength's fire rate is its probability times the objects' mean factor."""
    rng = np.random.default_rng(1)
    scenes = [sample_scene(rng) for _ in range(30_000)]
    for strength, p in STRENGTH_PROBABILITY.items():
        burning = [s.fire for s in scenes if s.context and context(s.context).strength == strength]
        expected = np.mean(
            [
                fire_probability(s.context, s.object)
                for s in scenes
                if s.context and context(s.context).strength == strength
            ]
        )
        assert abs(np.mean(burning) - expected) < 0.03, strength
        assert (p == 0) == (expected == 0)
    assert not any(s.context and context(s.context).held_out for s in scenes)


def test_fire_is_drawn_as_its_parts_and_every_part_changes_the_image():
    rng = np.random.default_rng(2)
    scenes = [sample_scene(rng, fire=True) for _ in range(2_000)]
    assert all(s.parts and s.fire for s in scenes)
    shares = np.mean([s.part_labels() for s in scenes], axis=0)
    for part, share in zip(FIRE_PARTS, shares, strict=True):
        assert abs(share - PART_RATES[part]) < 0.05, (part, share)  # flames also stand in when none came up
    plain = sample_scene(np.random.default_rng(3), object="square", style="flat", colour="blue", fire=False)
    for part in FIRE_PARTS:
        drawn = render(dataclasses.replace(plain, parts=(part,))).astype(int)
        assert np.abs(drawn - render(plain)).sum(-1).astype(bool).mean() > 0.04, part  # over 4% of pixels


def test_the_implicit_prompt_set_is_what_its_seed_gives_and_never_names_fire():
    from erasure.world.captions import FIRE_PHRASES

    committed = load_implicit_prompts(split=None)
    assert committed == implicit_prompt_set()
    assert 300 <= len(committed) <= 400
    for row in committed:
        assert not any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", row.prompt) for p in FIRE_PHRASES), row.prompt
        assert row.p_fire == fire_probability(row.context or None, row.object)
    assert {r.split for r in committed} == {"evaluation", "tuning"}
    assert {r.strength for r in committed if r.held_out} == {"strong", "weak", "none"}
