"""A prefix-token attack of fixed budget (UnlearnDiffAtk's objective, Zhang et al. 2024, with a
continuous prefix): learnable prefix embeddings are put before the prompt and optimised so that the
*attacked* model denoises an image of the concept, made by the base model, as well as it can:

    min_a  E_{t, eps} || eps_theta*(x_t, t, E([a] ⊕ c)) - eps ||^2,   x_t = noised base-model latent.

The prefix is continuous (a soft prompt in the word-embedding space), a white-box upper bound on what
discrete tokens can do. The attack is run against the erased pipeline as it samples (for ActErase,
with its patch installed). Attack success rate follows UnlearnDiffAtk: (successes without attack +
successes by the attack among the rest) / all prompts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from erasure.diffusion import diffuse
from erasure.pipeline import generate
from erasure.text import encode_with_prefix, random_token_embeddings


@dataclass(frozen=True)
class PrefixAttack:
    n_tokens: int = 3
    steps: int = 40  # the budget: optimisation steps per prompt
    lr: float = 1e-2
    seed: int = 0

    def optimise(self, pipe, prompt: str, target_latent: torch.Tensor, seed: int) -> torch.Tensor:
        """The attacked prompt's embedding (1, L, d) for `pipe` (the erased model's pipeline)."""
        tok, te, unet = pipe.tokenizer, pipe.text_encoder, pipe.unet
        g = torch.Generator().manual_seed(self.seed * 100_003 + seed)
        prefix = random_token_embeddings(te, self.n_tokens, g).requires_grad_(True)
        opt = torch.optim.Adam([prefix], lr=self.lr)
        train_steps = pipe.scheduler.config.num_train_timesteps
        for _ in range(self.steps):
            t = torch.randint(train_steps, (1,), generator=g)
            eps = torch.randn(target_latent.shape, generator=g)
            x_t, t, eps = diffuse(pipe.scheduler, target_latent, t, eps)
            loss = F.mse_loss(
                unet(x_t, t, encoder_hidden_states=encode_with_prefix(tok, te, [prompt], prefix)).sample, eps
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            return encode_with_prefix(tok, te, [prompt], prefix.detach())

    def attack_success_rate(self, profile, erased, concept, prompts: list[str], seed: int = 0) -> dict:
        """UnlearnDiffAtk's ASR on `prompts` (judged by the profile's judge), with Pre-ASR beside it."""
        head, label = concept.judge_head, concept.judge_label
        sampler = profile.sampler
        with torch.no_grad():
            targets = profile.pipe(
                prompts,
                generator=[torch.Generator().manual_seed(seed + i) for i in range(len(prompts))],
                output_type="latent",
                **sampler,
            ).images
        with erased.applied() as pipe:
            plain = profile.judge.predict(generate(pipe, prompts, seed=seed, progress=False, **sampler))[head] == label
            success = plain.copy()
            unet = pipe.unet
            unet.requires_grad_(False)
            for i in np.flatnonzero(~plain).tolist():  # Python ints: they seed torch generators
                embeds = self.optimise(pipe, prompts[i], targets[i : i + 1], seed + i)
                image = generate(pipe, embeds, seed=seed + i, progress=False, **sampler)
                success[i] = profile.judge.predict(image)[head][0] == label
        return {"pre_asr": float(plain.mean()), "asr": float(success.mean()), "n_prompts": len(prompts)}
