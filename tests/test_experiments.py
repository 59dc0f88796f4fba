"""The experiment cache: a second request for the same erasure reuses the saved model and result; results
pooled over evaluation seeds."""

import numpy as np
import pytest

from erasure.experiments import erased_model, run_erasure, run_erasure_pooled
from erasure.methods import ESD, ActErase
from erasure.methods.base import ERASED_JSON


def test_erased_models_and_results_are_cached_and_identical(tiny, tmp_path):
    eraser, concept = ESD(iterations=2, lr=1e-4, ddim_steps=6), tiny.concepts["house"]
    first = erased_model(tiny, eraser, concept, cache_dir=tmp_path)
    saved = list((tmp_path / "models").glob(f"*/{ERASED_JSON}"))
    assert len(saved) == 1
    again = erased_model(tiny, eraser, concept, cache_dir=tmp_path)
    assert again is not first and again.info == first.info
    prompts = concept.evaluation_prompts(2, 0)
    assert np.array_equal(first(prompts, seed=0, progress=False), again(prompts, seed=0, progress=False))
    # another hyperparameter is another model
    erased_model(tiny, ESD(iterations=2, lr=2e-4, ddim_steps=6), concept, cache_dir=tmp_path)
    assert len(list((tmp_path / "models").glob(f"*/{ERASED_JSON}"))) == 2


def test_pooled_results_are_the_mean_over_evaluation_seeds(tiny):
    eraser = ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4)
    concept = tiny.concepts["fire"]
    rows = [run_erasure(tiny, eraser, concept, 2, s) for s in (0, 1)]
    pooled = run_erasure_pooled(tiny, eraser, concept, 2, [0, 1])
    assert pooled["erased_rate_after"] == pytest.approx(np.mean([r["erased_rate_after"] for r in rows]))
    assert pooled["retained_drop_points"] == pytest.approx(np.mean([r["retained_drop_points"] for r in rows]))
    assert pooled["retained_drop_points_max"] == max(r["retained_drop_points"] for r in rows)
    assert pooled["n_images"] == sum(r["n_images"] for r in rows) and pooled["seeds"] == "0 1"
