"""Running the base sampler over many prompts, batched, prompt i from its own seed: what the methods that
read the base model's behaviour share (SalUn's forget and retain images, ConceptPrune's activations)."""

from __future__ import annotations

import torch
from tqdm import tqdm


@torch.no_grad()
def sample_latents(
    pipe, prompts: list[str], seeds: list[int], steps: int, guidance: float, batch_size: int = 16, desc: str = "sample"
) -> torch.Tensor:
    """x_0 latents of `prompts` (prompt i from `seeds[i]`), from the full DDIM run of `pipe`; hooks on its
    UNet see every step."""
    out = []
    for i in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds[i : i + batch_size]]
        batch = prompts[i : i + batch_size]
        out.append(
            pipe(
                batch, generator=generators, num_inference_steps=steps, guidance_scale=guidance, output_type="latent"
            ).images
        )
    return torch.cat(out)
