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
    """Every method, by name, at its smallest budget (the sd14 smoke run's)."""
    from erasure.methods import METHODS
    from erasure.methods.defaults import SMOKE_BUDGETS

    return {name: METHODS[name](**budget) for name, budget in SMOKE_BUDGETS.items()}
