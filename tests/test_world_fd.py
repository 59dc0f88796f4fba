"""The FD column on tiny: the Fréchet distance between the base model's images of world captions and
their renders, stored, with the floor that the sample size alone gives."""

import numpy as np

from erasure.store import ResultStore
from erasure.world_fd import clip_image_features, world_captions, world_fd
from erasure.world_fd_kept import shows_concept, world_fd_kept


def test_world_captions_are_the_renders_captions_and_fixed_by_the_seed():
    captions, real = world_captions(16, 0)
    again, real_again = world_captions(16, 0)
    assert captions == again and np.array_equal(real, real_again)
    assert len(captions) == 16 and all(captions) and real.shape[0] == 16 and real.dtype == np.uint8
    assert world_captions(16, 1)[0] != captions


def test_the_base_models_fd_is_stored_and_above_zero(tiny, tmp_path):
    store = ResultStore(tmp_path)
    row = world_fd(tiny, n=48, store=store)
    assert row["n"] == 48 and row["fd"] > 0 and row["floor"] > 0
    assert row["fd_low"] < row["fd_high"]
    assert len(store.computed) == 1
    assert world_fd(tiny, n=48, store=store) == row and len(store.computed) == 1  # read back, not recomputed


def test_an_image_set_is_at_distance_zero_from_itself(tiny):
    from erasure.evaluate.frechet import feature_frechet_distance

    _, real = world_captions(160, 0)
    features = clip_image_features(tiny, real)
    assert features.shape == (160, 128)
    assert abs(feature_frechet_distance(features, features)) < 1e-6


def test_the_fd_without_a_concept_leaves_out_the_renders_that_show_it(tiny, tmp_path):
    house = tiny.concepts["house"]
    captions, real = world_captions(96, 0)
    shown = shows_concept(tiny, real, house)
    naming = np.array([any(w in c for w in house.erase) for c in captions])
    assert 0 < shown.sum() < 96 and shown[naming].all()  # every caption that names house shows it
    row = world_fd_kept(tiny, house, n=96, store=ResultStore(tmp_path))
    assert row["n"] == 96 - shown.sum() and row["n_drawn"] == 96 and row["fd_low"] < row["fd"] < row["fd_high"]
