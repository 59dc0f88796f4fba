"""The experiment cache: a second request for the same erasure reuses the saved model and result."""

import numpy as np

from erasure.experiments import erased_model
from erasure.methods import ESD
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
