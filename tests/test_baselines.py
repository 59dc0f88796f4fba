"""The baselines (UCE, RECE, AdvUnlearn, SalUn, SLD, ConceptPrune, ESD-u, ESD-x), each on the behaviour its
paper defines, on the real tiny model; and every method on an SD-1.4-shaped UNet, with save/load."""

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from shapes import sd14_shaped_unet, small_budget_methods

from erasure.evaluate.fidelity import judged_rate
from erasure.methods import (
    RECE,
    SLD,
    UCE,
    AdvUnlearn,
    ConceptPrune,
    ErasedModel,
    ESDu,
    ESDx,
    SalUn,
)
from erasure.methods.closed_form import ProjectionEdit, last_word_embeddings
from erasure.methods.conceptprune import pruning_sites
from erasure.methods.finetune import Finetuner
from erasure.methods.sampling import sample_latents
from erasure.pipeline import generate

FAST = {"num_inference_steps": 6, "guidance_scale": 5.0}


def test_uce_maps_the_erased_words_to_the_guide_and_keeps_the_preserved_ones(tiny):
    pipe, concept = tiny.pipe, tiny.concepts["heart"]
    keep = ["circle", "star", "square"]
    before = ProjectionEdit.of(pipe.unet)
    after = UCE(preserve=tuple(keep)).edit(pipe, concept)
    c_e = last_word_embeddings(pipe, list(concept.erase))
    c_g = last_word_embeddings(pipe, [concept.anchor] * len(c_e))
    c_p = last_word_embeddings(pipe, keep)
    for name in before.weights:
        v_star = before.outputs(name, c_g)
        moved = (after.outputs(name, c_e) - v_star).norm() / (before.outputs(name, c_e) - v_star).norm()
        kept = (after.outputs(name, c_p) - before.outputs(name, c_p)).norm() / before.outputs(name, c_p).norm()
        assert moved < 0.35, f"{name}: the erased words moved only {1 - moved:.0%} of the way to the guide"
        assert kept < 0.1, f"{name}: the preserved words' outputs changed by {kept:.1%}"
    assert ProjectionEdit.of(pipe.unet).weights.keys() == before.weights.keys()
    for name, w in ProjectionEdit.of(pipe.unet).weights.items():
        assert torch.equal(w, before.weights[name]), "UCE changed the base pipeline"


def test_rece_rounds_lower_the_rate_under_their_own_adversarial_embedding(tiny):
    """RECE's round 0 finds an embedding that draws the concept on the UCE-edited model; after the round it
    no longer does (16 images each, the tiny judge)."""
    concept = tiny.concepts["heart"]
    uce_only = RECE(rounds=0).erase(tiny.pipe, concept)
    one_round = RECE(rounds=1, regular_scale=1e-3).erase(tiny.pipe, concept)
    c_adv = one_round.adversarial["round0"][0:1].expand(16, -1, -1)
    head, label = concept.judge_head, concept.judge_label
    rate_before = judged_rate(tiny.judge, uce_only(c_adv, seed=0, progress=False, **FAST), head, label)
    rate_after = judged_rate(tiny.judge, one_round(c_adv, seed=0, progress=False, **FAST), head, label)
    assert rate_before >= 0.5
    assert rate_after <= rate_before - 0.4


def test_advunlearn_changes_only_the_text_encoder(tiny):
    before_unet = {n: p.clone() for n, p in tiny.pipe.unet.state_dict().items()}
    before_text = {n: p.clone() for n, p in tiny.pipe.text_encoder.state_dict().items()}
    erased = AdvUnlearn(iterations=3, warmup=1, attack_steps=2, retain_batch=1, ddim_steps=4).erase(
        tiny.pipe, tiny.concepts["heart"]
    )
    assert erased.changed and set(erased.changed) <= set(before_text)
    with erased.applied() as pipe:
        assert pipe.unet is tiny.pipe.unet
        assert any(not torch.equal(p, before_text[n]) for n, p in pipe.text_encoder.state_dict().items())
    for n, p in tiny.pipe.unet.state_dict().items():
        assert torch.equal(p, before_unet[n])
    for n, p in tiny.pipe.text_encoder.state_dict().items():
        assert torch.equal(p, before_text[n])
    first = AdvUnlearn(iterations=2, warmup=2, layers="first", ddim_steps=4).erase(tiny.pipe, tiny.concepts["heart"])
    assert first.changed and all(n.startswith("encoder.layer.0.") for n in first.changed)


def test_salun_changes_only_the_weights_its_saliency_mask_holds(tiny):
    salun = SalUn(iterations=3, n_images=8, batch_size=4, ddim_steps=4, image_guidance=5.0, lr=1e-3)
    concept = tiny.concepts["heart"]
    erased = salun.erase(tiny.pipe, concept)
    # The mask again, as `erase` computes it (same seed, same draws).
    ft = Finetuner(tiny.pipe, salun, concept)
    pairs = concept.prompt_pairs(salun.n_images, salun.seed)
    seeds = [salun.seed + i for i in range(len(pairs))]
    x_f = sample_latents(tiny.pipe, [w for w, _ in pairs], seeds, salun.ddim_steps, salun.image_guidance)
    mask = salun.saliency_mask(ft, x_f, ft.encode([w for w, _ in pairs]))
    share = sum(m.sum() for m in mask.values()) / sum(m.numel() for m in mask.values())
    assert abs(float(share) - salun.saliency_share) < 0.01
    base = tiny.pipe.unet.state_dict()
    assert erased.changed
    for name, tensor in erased.changed.items():
        moved = tensor != base[name]
        assert not (moved & ~mask[name]).any(), f"{name} changed outside the mask"
    assert sum(int((t != base[n]).sum()) for n, t in erased.changed.items()) > 0


def test_sld_leaves_images_without_the_concept_close_to_the_base(tiny):
    """SLD (Medium) on prompts of the other objects: the judge sees the same object, colour, style and no fire
    in at least 90% of the images, and pixels move by less than 8% of their range on average."""
    concept = tiny.concepts["heart"]
    prompts = [r.prompt for r in concept.retained(tiny.concepts, 2, 0)]
    base = generate(tiny.pipe, prompts, seed=0, progress=False, **tiny.sampler)
    after = SLD().erase(tiny.pipe, concept)(prompts, seed=0, progress=False, **tiny.sampler)
    judged_base, judged_after = tiny.judge.predict(base), tiny.judge.predict(after)
    for head in judged_base:
        assert (judged_base[head] == judged_after[head]).mean() >= 0.9, head
    assert np.abs(after.astype(float) - base).mean() < 0.08 * 255
    assert not tiny.pipe.unet._forward_hooks, "SLD left its hook on the base UNet"


def test_conceptprune_zeroes_exactly_the_selected_weights(tiny):
    pruner = ConceptPrune(num_pairs=4, num_inference_steps=4, guidance_scale=5.0, timesteps=2, skill_ratio=0.05)
    concept = tiny.concepts["heart"]
    mask = pruner.mask(tiny.pipe, concept)
    erased = pruner.erase(tiny.pipe, concept)
    sites = pruning_sites(tiny.pipe.unet)
    assert set(erased.changed) == {f"{n}.weight" for n in sites}
    for name, module in sites.items():
        pruned = erased.changed[f"{name}.weight"]
        assert (pruned[mask[name]] == 0).all()
        assert torch.equal(pruned[~mask[name]], module.weight.detach()[~mask[name]])
    assert erased.info["pruned_weights"] == sum(int(m.sum()) for m in mask.values()) > 0


def test_esd_u_and_esd_x_train_their_own_parameter_groups(tiny):
    u = ESDu.for_profile(tiny, iterations=1, ddim_steps=2).erase(tiny.pipe, tiny.concepts["heart"])
    x = ESDx.for_profile(tiny, iterations=1, ddim_steps=2).erase(tiny.pipe, tiny.concepts["heart"])
    assert u.changed and not any("attn2" in n for n in u.changed)
    assert x.changed and all("attn2" in n for n in x.changed)


@pytest.mark.parametrize("name", list(small_budget_methods()))
def test_every_method_erases_an_sd14_shaped_unet_and_saves_and_loads_identically(tiny, tmp_path, name):
    pipe = StableDiffusionPipeline(**{**tiny.pipe.components, "unet": sd14_shaped_unet()})
    pipe.set_progress_bar_config(disable=True)
    base = {n: p.clone() for n, p in pipe.unet.state_dict().items()}
    erased = small_budget_methods()[name].erase(pipe, tiny.concepts["house"])
    prompts = ["a red solid house", "a blue striped circle"]
    images = erased(prompts, seed=3, progress=False, num_inference_steps=2, guidance_scale=5.0)
    loaded = ErasedModel.load(erased.save(tmp_path / name), base=pipe)
    again = loaded(prompts, seed=3, progress=False, num_inference_steps=2, guidance_scale=5.0)
    assert np.array_equal(images, again)
    assert erased.info["erase_seconds"] >= 0
    for n, p in pipe.unet.state_dict().items():
        assert torch.equal(p, base[n]), f"{name} changed the base pipeline's {n}"
