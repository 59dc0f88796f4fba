"""The diagnostic distances d0, d1, d2 (`erasure.noise_distances`) on the real tiny model: what they compare,
that the base model's predictions see the class, and that an erasure's are stored with the attack's records."""

import numpy as np
import pytest

from erasure.attacks import UnlearnDiffAtk
from erasure.attacks.base import Victim
from erasure.evaluate.class_rate import word_prompts
from erasure.methods import UCE
from erasure.noise_distances import (
    TIMESTEPS,
    class_distance,
    class_prompts,
    distances,
    noisy_latents,
    predicted_noise,
    searched,
)
from erasure.robustness import records_of, run_attack
from erasure.store import ResultStore


@pytest.fixture(scope="module")
def house_latents(tiny):
    house = tiny.concepts["house"]
    prompts, others = class_prompts(house, 6, 0)
    x = noisy_latents(tiny, prompts, list(range(len(prompts))))
    base = Victim(tiny, None, house, [], [], 0)
    return house, prompts, others, x, base, predicted_noise(tiny.pipe.unet, x, base.encode(prompts))


def test_the_latents_are_the_base_models_noised_at_every_timestep(tiny, house_latents):
    _, prompts, others, x, _, eps = house_latents
    assert x.shape[:2] == (len(TIMESTEPS), len(prompts)) and eps.shape == x.shape
    assert all(len(words) == len(prompts) for words in others)
    again = noisy_latents(tiny, prompts[:2], [0, 1])
    assert np.allclose(again.numpy(), x[:, :2].numpy(), atol=1e-5)  # image i from its own seed, batch or not


def test_a_class_word_predicts_closer_noise_than_another_object(tiny, house_latents):
    house, prompts, others, x, base, eps = house_latents
    assert np.allclose(class_distance(base, tiny.pipe.unet, x, eps, [prompts]), 0, atol=1e-6)
    within = class_distance(base, tiny.pipe.unet, x, eps, others)
    elsewhere = class_distance(base, tiny.pipe.unet, x, eps, [word_prompts(house, "square", 6, 0)])
    assert (within > 0).all() and within.mean() < elsewhere.mean()


def test_an_erasures_distances_are_stored_beside_its_attack(tiny, tmp_path):
    house, store = tiny.concepts["house"], ResultStore(tmp_path)
    uce = UCE.for_profile(tiny)
    row = distances(tiny, uce, house, 4, 0, store)
    records = records_of(run_attack(tiny, UnlearnDiffAtk(seed=0), house, uce, 4, 0, store=store))
    assert row["d0"]["n"] == 4 and row["d0"]["low"] < row["d0"]["mean"] < row["d0"]["high"]
    assert row["moved"]["mean"] > 0  # UCE changed the canonical prompt's prediction
    assert row["d2"]["n"] == len(searched(records))
    computed = len(store.computed)
    assert distances(tiny, uce, house, 4, 0, store) == row and len(store.computed) == computed
