"""ESD and AEGIS on the shared fine-tuning loop, on the real tiny model: parameter groups, the base
left untouched, exact resume, persistence, AEGIS's prefix steps, and real erasure."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel

from erasure.methods import AEGIS, ESD, ErasedModel
from erasure.methods.aegis import prefix_step
from erasure.methods.finetune import LOG_FILE, Finetuner
from erasure.pipeline import generate
from erasure.text import encode_with_prefix, random_token_embeddings

FAST = {"lr": 1e-4, "ddim_steps": 6, "checkpoint_every": 2}


def _checksum(unet) -> float:
    return float(sum(p.detach().double().sum() for p in unet.parameters()))


@pytest.mark.parametrize("method", [ESD, AEGIS])
@pytest.mark.parametrize(("group", "cross"), [("unet_cross", True), ("unet_noncross", False)])
def test_only_the_chosen_parameter_group_changes_and_the_base_is_untouched(tiny, method, group, cross):
    before = _checksum(tiny.pipe.unet)
    erased = method(iterations=2, trainable=group, **FAST).erase(tiny.pipe, tiny.concepts["house"])
    assert erased.changed
    assert all(("attn2" in name) == cross for name in erased.changed)
    assert _checksum(tiny.pipe.unet) == before


def test_resume_from_a_checkpoint_is_exact(tiny, tmp_path):
    concept = tiny.concepts["fire"]
    straight = AEGIS(iterations=4, **FAST).erase(tiny.pipe, concept)
    AEGIS(iterations=2, **FAST).erase(tiny.pipe, concept, checkpoint_dir=tmp_path)
    resumed = AEGIS(iterations=4, **FAST).erase(tiny.pipe, concept, checkpoint_dir=tmp_path)
    assert [r["iteration"] for r in resumed.log] == [1, 2, 3, 4]
    assert set(straight.changed) == set(resumed.changed)
    assert all(torch.equal(straight.changed[n], resumed.changed[n]) for n in straight.changed)
    with pytest.raises(ValueError, match="another run"):
        AEGIS(iterations=6, **{**FAST, "lr": 2e-4}).erase(tiny.pipe, concept, checkpoint_dir=tmp_path)


def test_save_load_round_trip_and_plain_unet(tiny, tmp_path):
    erased = AEGIS(iterations=2, **FAST).erase(tiny.pipe, tiny.concepts["dotted"])
    path = erased.save(tmp_path / "dotted")
    assert (path / LOG_FILE).is_file()
    loaded = ErasedModel.load(path, base=tiny.pipe)
    assert loaded.method == "aegis" and loaded.concept == "dotted"
    prompts = ["a red dotted house", "a blue flat star"]
    assert np.array_equal(
        loaded(prompts, seed=2, num_inference_steps=6, progress=False),
        erased(prompts, seed=2, num_inference_steps=6, progress=False),
    )
    assert isinstance(loaded.unet(), UNet2DConditionModel)


def test_each_prefix_step_lowers_its_own_objective(tiny):
    ft = Finetuner(tiny.pipe, AEGIS(**FAST), tiny.concepts["house"])
    c_e = ft.encode(["house"])
    torch.manual_seed(0)
    z, t = torch.randn(1, 4, 16, 16), torch.tensor([500])
    with torch.no_grad():
        y0 = ft.frozen(z, t, encoder_hidden_states=c_e).sample
    encode = lambda a: encode_with_prefix(tiny.pipe.tokenizer, tiny.pipe.text_encoder, ["house"], a)
    objective = lambda a: F.mse_loss(ft.frozen(z, t, encoder_hidden_states=encode(a)).sample, y0)
    a = random_token_embeddings(tiny.pipe.text_encoder, 1, torch.Generator().manual_seed(0))
    for _ in range(3):
        stepped = prefix_step(a, objective, beta=1e-3)
        with torch.no_grad():
            assert objective(stepped) < objective(a)
        a = stepped


@pytest.mark.parametrize(("method", "iterations"), [(ESD, 60), (AEGIS, 30)])
def test_a_short_run_lowers_the_erased_concepts_judged_rate(tiny, method, iterations):
    """A short run at the tiny defaults (10 DDIM steps to reach x_t instead of 20) lowers house's judged rate
    from 100% of 16 images: measured, ESD 12.5% after 60 iterations (100% after 30), AEGIS 6.2% after 30 (on
    fire, the slower concept, AEGIS needs 120). The full runs are notebook 03's table."""
    concept = tiny.concepts["house"]
    prompts = concept.evaluation_prompts(16, seed=0)
    rate = lambda images: np.mean(tiny.judge.predict(images)[concept.judge_head] == concept.judge_label)
    before = rate(generate(tiny.pipe, prompts, progress=False))
    erased = method.for_profile(tiny, iterations=iterations, ddim_steps=10).erase(tiny.pipe, concept)
    after = rate(erased(prompts, progress=False))
    assert after <= before - 0.5, (before, after)


@pytest.mark.parametrize("omega_init", [0.0, 1.0])
def test_omega_starts_where_it_is_told(tiny, omega_init):
    """The adaptive omega starts at omega_init (0: the paper and the released code); at the first step the
    drift is zero, so there is nothing to project and omega has not moved yet."""
    erased = AEGIS(iterations=1, omega_init=omega_init, **FAST).erase(tiny.pipe, tiny.concepts["fire"])
    assert erased.log[0]["omega_mean"] == omega_init
    with pytest.raises(ValueError, match="omega_init must lie in"):
        AEGIS(omega_init=2.0)
