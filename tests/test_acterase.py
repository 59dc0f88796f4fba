"""ActErase (reconstructed): hooks at every FFN of any diffusers UNet, exact removal, patch
persistence, the mask size, the multi-concept merge rule, and real erasure on the tiny model."""

import math

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from shapes import sd14_shaped_unet

from erasure.methods import ActErase, ErasedModel
from erasure.methods.acterase import Moments, Patch, find_sites, make_patch
from erasure.pipeline import generate

FAST = {"num_inference_steps": 6, "guidance_scale": 5.0}


def test_sd14_shaped_unet_is_hooked_at_the_same_16_ffn_sites():
    sites = find_sites(sd14_shaped_unet(), "ffn")
    assert len(sites) == 16
    assert "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0" in sites
    assert "mid_block.attentions.0.transformer_blocks.0.ff.net.0" in sites
    assert "up_blocks.3.attentions.2.transformer_blocks.0.ff.net.0" in sites


def test_acterase_runs_on_an_sd14_shaped_unet(tiny):
    pipe = StableDiffusionPipeline(**{**tiny.pipe.components, "unet": sd14_shaped_unet()})
    pipe.set_progress_bar_config(disable=True)
    erased = ActErase(num_pairs=2, rho=0.01, num_inference_steps=2, guidance_scale=5.0).erase(
        pipe, tiny.concepts["house"]
    )
    assert len(erased.patch.layers) == 16
    ffn_width = {n: m.proj.out_features // 2 for n, m in find_sites(pipe.unet).items()}
    for layer, mask in erased.patch.mask.items():
        assert (mask.sum(1) == math.ceil(0.01 * ffn_width[layer])).all()


def test_the_patch_sets_every_tokens_masked_channels_in_the_unets_own_dtype():
    """The replacement hook, on a UNet that is not float32: masked channels of every token hold the target,
    the others are untouched."""
    unet = sd14_shaped_unet().to(torch.float64)
    sites = find_sites(unet, "ffn")
    masks = {n: torch.zeros(2, m.proj.out_features // 2, dtype=torch.bool) for n, m in sites.items()}
    for mask in masks.values():
        mask[:, :3] = True
    target = {n: torch.full(m.shape, 7.0) for n, m in masks.items()}
    patch = Patch([999, 1], masks, target, {n: torch.zeros(m.shape) for n, m in masks.items()})
    handle = patch.install(unet, "ffn")
    seen = {}  # registered after the patch's hooks, so they see the patched outputs
    recorders = [m.register_forward_hook(lambda mod, a, out, n=n: seen.update({n: out})) for n, m in sites.items()]
    torch.manual_seed(0)
    with torch.no_grad():
        unet(torch.randn(2, 4, 16, 16, dtype=torch.float64), 999, torch.randn(2, 7, 384, dtype=torch.float64))
    for h in [*recorders, handle]:
        h.remove()
    assert len(seen) == 16
    for out in seen.values():
        assert out.dtype == torch.float64
        assert (out[..., :3] == 7.0).all() and not (out[..., 3:] == 7.0).any()


def _moments(values: dict[int, list[list[float]]]) -> Moments:
    m = Moments()
    for t, vs in values.items():
        m.add(t, torch.tensor(vs))
    return m


def test_mask_has_the_requested_size_and_targets_are_the_concept_free_level():
    plus = {"l": _moments({999: [[5.0, 0, 0, 1, 0, 0, 0, 0, 0, 0]], 500: [[0, 0, 0, 0, 0, 0, 0, 0, 3, 0]]})}
    minus = {"l": _moments({999: [[0.0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], 500: [[0, 0, 0, 0, 0, 0, 0, 0, 1, 0]]})}
    patch = make_patch(plus, minus, rho=0.2)  # ceil(0.2 * 10) = 2 neurons per timestep
    assert patch.timesteps == [999, 500]
    assert patch.mask["l"].sum(1).tolist() == [2, 2]
    assert patch.mask["l"][0, 0] and patch.mask["l"][0, 3] and patch.mask["l"][1, 8]
    assert patch.target["l"][1, 8] == 1.0 and patch.concept_level["l"][1, 8] == 3.0
    signed = make_patch(plus, minus, rho=0.1, score="signed")
    assert signed.mask["l"][0].nonzero().flatten().tolist() == [0]


def test_merge_ors_the_masks_and_averages_overlaps():
    def patch(mask, target):
        m = torch.tensor([mask], dtype=torch.bool)
        return Patch([10], {"l": m}, {"l": torch.tensor([target])}, {"l": torch.tensor([target]) + 1})

    merged = Patch.merge([patch([1, 1, 0, 0], [2.0, 4.0, 0, 0]), patch([0, 1, 1, 0], [0, 8.0, 6.0, 0])])
    assert merged.mask["l"][0].tolist() == [True, True, True, False]
    assert merged.target["l"][0, :3].tolist() == [2.0, 6.0, 6.0]
    assert merged.concept_level["l"][0, :3].tolist() == [3.0, 7.0, 7.0]


@pytest.fixture(scope="module")
def house_erased(tiny):
    return ActErase.for_profile(tiny, num_pairs=8, site="ffn", rho=0.02, cfg_policy="both", **FAST).erase(
        tiny.pipe, tiny.concepts["house"]
    )


def test_install_and_remove_leaves_the_base_bit_identical(tiny, house_erased):
    prompts = ["a red flat house", "a blue striped fish"]
    before = generate(tiny.pipe, prompts, seed=3, progress=False, **FAST)
    handle = house_erased.install()
    patched = generate(tiny.pipe, prompts, seed=3, progress=False, **FAST)
    handle.remove()
    after = generate(tiny.pipe, prompts, seed=3, progress=False, **FAST)
    assert np.array_equal(before, after)
    assert not np.array_equal(before, patched)
    assert np.array_equal(house_erased(prompts, seed=3, progress=False, **FAST), patched)
    assert np.array_equal(generate(tiny.pipe, prompts, seed=3, progress=False, **FAST), before)


@pytest.mark.parametrize("gate", ["channel", "sample"])
def test_the_gate_replaces_only_what_is_nearer_the_concept_level(tiny, house_erased, gate):
    p = house_erased.patch
    far = {layer: value + 100.0 for layer, value in p.target.items()}
    prompts = ["a red flat house", "a blue striped fish"]

    def sample(patch, gate):
        handle = patch.install(tiny.pipe.unet, "ffn", "both", None, gate)
        try:
            return generate(tiny.pipe, prompts, seed=3, progress=False, **FAST)
        finally:
            handle.remove()

    # Every activation is far nearer the target than a concept level 100 above it: nothing is replaced.
    never = Patch(p.timesteps, p.mask, p.target, far)
    assert np.array_equal(sample(never, gate), generate(tiny.pipe, prompts, seed=3, progress=False, **FAST))
    # Swapped, every activation is nearer the concept level: all is replaced, as without a gate.
    always = Patch(p.timesteps, p.mask, far, p.target)
    assert np.array_equal(sample(always, gate), sample(always, "off"))


def test_unknown_options_fail_before_any_statistics():
    with pytest.raises(ValueError, match="unknown gate True; choose one of off, channel, sample"):
        ActErase(gate=True)
    with pytest.raises(ValueError, match="unknown site 'mlp'"):
        ActErase(site="mlp")


def test_save_load_round_trip_gives_identical_images(tiny, house_erased, tmp_path):
    path = house_erased.save(tmp_path / "house")
    assert (path / "patch.safetensors").stat().st_size < 200_000
    loaded = ErasedModel.load(path, base=tiny.pipe)
    assert loaded.concept == "house" and loaded.method == "acterase"
    prompts = ["a green dotted house", "a yellow outline heart"]
    assert np.array_equal(
        loaded(prompts, seed=1, progress=False, **FAST), house_erased(prompts, seed=1, progress=False, **FAST)
    )


def test_loading_something_that_is_not_an_erased_model_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved erased model"):
        ErasedModel.load(tmp_path, base=tiny.pipe)


def test_erasing_a_concept_lowers_its_judged_rate(tiny):
    """At the tiny profile's options (notebook 02, section 6), erasing the unsafe stand-in removes it
    (here with 8 pairs and 6 steps; the notebook's table measures all three concepts at full size)."""
    concept = tiny.concepts["fire"]
    erased = ActErase.for_profile(tiny, num_pairs=8, **FAST).erase(tiny.pipe, concept)
    prompts = concept.evaluation_prompts(12, seed=0)
    head, label = concept.judge_head, concept.judge_label
    before = np.mean(tiny.judge.predict(generate(tiny.pipe, prompts, progress=False, **FAST))[head] == label)
    after = np.mean(tiny.judge.predict(erased(prompts, progress=False, **FAST))[head] == label)
    assert after <= before - 0.5, (before, after)
