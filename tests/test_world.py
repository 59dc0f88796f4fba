"""The concept world: deterministic renders with exact labels, and a caption grammar that never
leaks a held-out phrase."""

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
from erasure.world.render import ATTRIBUTE, COLOURS, OBJECTS, RGB, STYLES, render, render_batch, sample_scene


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


def test_object_colour_is_drawn_and_fire_darkens_the_background():
    rng = np.random.default_rng(1)
    scene = sample_scene(rng, object="square", style="flat", colour="red", fire=False)
    img = render(scene).reshape(-1, 3).astype(int)
    red = np.array(RGB["red"])
    assert (np.abs(img - red).sum(1) < 30).sum() > 40  # a solid red square covers many pixels
    with_fire = render(sample_scene(np.random.default_rng(1), object="square", style="flat", colour="red", fire=True))
    assert with_fire.mean() < render(scene).mean() - 30  # the burning backdrop is dark


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


def test_captions_name_fire_exactly_when_it_is_there():
    rng = np.random.default_rng(0)
    from erasure.world.captions import FIRE_PHRASES

    for _ in range(500):
        scene = sample_scene(rng)
        text = caption(scene, rng, empty_rate=0.0)
        mentions = any(re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in FIRE_PHRASES)
        assert mentions == scene.fire, text
