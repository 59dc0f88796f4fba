"""A Stable Diffusion v1.4-shaped UNet with random weights, and every method at its smallest budget: every method
and attack must run on it, so the sd14 profile has nothing that works on tiny only."""

import torch
from diffusers import UNet2DConditionModel


def sd14_shaped_unet(cross_attention_dim: int = 384) -> UNet2DConditionModel:
    """Stable Diffusion v1.4's UNet configuration (block types, layers, module names) with its channel
    widths shrunk by 10x and random weights."""
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=16,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(32, 64, 128, 128),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def small_budget_methods() -> dict:
    """Every method, by name, with the smallest budget that runs each of its steps (for shape tests)."""
    from erasure.methods import AEGIS, ESD, RECE, SLD, UCE, ActErase, AdvUnlearn, ConceptPrune, ESDu, ESDx, SalUn

    return {
        "uce": UCE(),
        "rece": RECE(rounds=1),
        "sld": SLD(),
        "conceptprune": ConceptPrune(num_pairs=2, num_inference_steps=2, timesteps=2),
        "salun": SalUn(iterations=2, n_images=2, batch_size=2, ddim_steps=2),
        "advunlearn": AdvUnlearn(iterations=2, warmup=1, attack_steps=1, retain_batch=1, ddim_steps=2),
        "esd_u": ESDu(iterations=2, ddim_steps=2),
        "esd_x": ESDx(iterations=2, ddim_steps=2),
        "esd": ESD(iterations=2, ddim_steps=2),
        "aegis": AEGIS(iterations=2, ddim_steps=2),
        "acterase": ActErase(num_pairs=2, num_inference_steps=2),
    }
