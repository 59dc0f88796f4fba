"""What the gradient attacks share (UnlearnDiffAtk, P4D, the soft prefix): k adversarial tokens per prompt,
optimised by gradient steps on a denoising objective, in blocks between the judged checkpoints. On a noised
target latent x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε (x_0: the base model's image for the target prompt):

- UnlearnDiffAtk (Zhang et al. 2024, eq. 3) and the soft prefix: the attacked model should denoise the base
  model's image under the adversarial prompt, min ||ε_θ*(x_t, t, c_adv) - ε||²;
- P4D (Chin et al. 2024, eq. 4): it should predict what the base model predicts under the original prompt,
  min ||ε_θ*(x_t, t, c_adv) - ε_θ(x_t, t, c)||².

Each prompt has its own parameter (a distribution over the vocabulary, or a free vector per token) and its own
random stream; one optimizer holds them all and steps only those of the prompts still being attacked (a
parameter with no gradient is skipped), so a batched run gives each prompt the same steps as a run alone. The
noise and timesteps of a block are drawn before it (`prepare`), outside the attacked model, so that an
objective may also ask the base model (P4D's teacher) even where the erasure patches the base pipeline in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from erasure.attacks.base import Adversarial, Attack, Victim, prompt_generator
from erasure.attacks.vocabulary import attack_vocabulary, decode_words
from erasure.diffusion import diffuse


@dataclass
class SearchState:
    """The search of one run: the target latents x_0, each prompt's parameter and generator, the optimizer,
    and the current block's draws (timestep and noise per step and prompt, and any teacher prediction)."""

    x0: torch.Tensor
    vocabulary: torch.Tensor
    table: torch.Tensor  # the word embeddings of `vocabulary` (V', d)
    parameters: dict[int, torch.nn.Parameter]
    generators: dict[int, torch.Generator]
    optimizer: torch.optim.Optimizer
    block: list[dict] | None = None


class TokenSearch(Attack):
    """The shared loop. Subclasses set `k`, `iterations` (steps per block), `checks`, `lr`, `weight_decay`,
    `seed`, and say how tokens are parametrised (`init`, `tokens`, `after_step`, `ids`) and which timestep and
    loss a step uses (`loss`, and `timestep` where it is not UnlearnDiffAtk's block schedule)."""

    #: Whether the k tokens replace the prompt (P4D-N) rather than precede it (UnlearnDiffAtk's prefix).
    replaces: bool = False

    @property
    def budget_per_check(self) -> int:
        return self.iterations

    # ---- what subclasses define ------------------------------------------------------------------
    def init(self, victim: Victim, state: SearchState, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def tokens(self, state: SearchState, active: list[int]) -> torch.Tensor:
        """The active prompts' k token embeddings (B, k, d) for a forward pass, differentiable."""
        raise NotImplementedError

    def after_step(self, state: SearchState, active: list[int]) -> None:
        """Called after each optimizer step (a projection, where the parametrisation needs one)."""

    def ids(self, state: SearchState, active: list[int]) -> torch.Tensor | None:
        """The discrete tokens (B, k) of the active prompts' current adversarial prompts (None: continuous)."""
        return None

    def timestep(self, generator: torch.Generator, check: int, train_steps: int) -> int:
        """The timestep of block `check` (from 1): UnlearnDiffAtk's schedule unless an attack draws its own."""
        return block_timesteps(self.checks, train_steps)[check - 1]

    def teacher(self, victim: Victim, x_t: torch.Tensor, t: torch.Tensor, active: list[int]) -> torch.Tensor | None:
        """A base-model prediction the loss needs (P4D), computed before the block; None for most."""
        return None

    def optimizer(self, parameters: list[torch.Tensor]) -> torch.optim.Optimizer:
        return torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)

    # ---- the loop ----------------------------------------------------------------------------------
    def start(self, victim: Victim, active: list[int]) -> SearchState:
        vocabulary = attack_vocabulary(victim.tokenizer)
        state = SearchState(
            x0=victim.target_latents(),
            vocabulary=vocabulary,
            table=victim.word_embeddings(vocabulary),
            parameters={},
            generators={},
            optimizer=None,
        )
        for i in active:
            state.generators[i] = prompt_generator(victim.seed + i, self.seed)
            state.parameters[i] = torch.nn.Parameter(self.init(victim, state, state.generators[i]))
        state.optimizer = self.optimizer(list(state.parameters.values()))
        return state

    @torch.no_grad()
    def prepare(self, victim: Victim, state: SearchState, active: list[int], check: int) -> None:
        scheduler = victim.profile.pipe.scheduler
        train_steps = scheduler.config.num_train_timesteps
        state.block = []
        for _ in range(self.iterations):
            t = torch.tensor([self.timestep(state.generators[i], check, train_steps) for i in active])
            eps = torch.stack([torch.randn(state.x0.shape[1:], generator=state.generators[i]) for i in active])
            x_t, t, eps = diffuse(scheduler, state.x0[active], t, eps)
            state.block.append({"t": t, "eps": eps, "x_t": x_t, "teacher": self.teacher(victim, x_t, t, active)})

    def advance(self, victim: Victim, pipe, state: SearchState, active: list[int], check: int) -> None:
        prompts = self.conditioned_prompts(victim, active)
        for draw in state.block:
            conditioning = victim.with_tokens(prompts, self.tokens(state, active))
            prediction = pipe.unet(draw["x_t"], draw["t"], encoder_hidden_states=conditioning).sample
            target = draw["eps"] if draw["teacher"] is None else draw["teacher"]
            loss = (prediction - target).pow(2).flatten(1).mean(1).sum()  # each prompt's own MSE
            state.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            state.optimizer.step()
            self.after_step(state, active)

    def conditioned_prompts(self, victim: Victim, active: list[int]) -> list[str]:
        """The text the tokens go with: the prompt (a prefix attack) or nothing (an attack that replaces it)."""
        return ["" if self.replaces else victim.prompts[i] for i in active]

    @torch.no_grad()
    def current(self, victim: Victim, state: SearchState, active: list[int]) -> Adversarial:
        prompts = self.conditioned_prompts(victim, active)
        ids = self.ids(state, active)
        if ids is None:
            return Adversarial(victim.with_tokens(prompts, self.tokens(state, active).detach()))
        words = [decode_words(victim.tokenizer, row.tolist()) for row in ids]
        texts = [" ".join(f"{w} {p}".split()) for w, p in zip(words, prompts, strict=True)]
        return Adversarial(victim.with_tokens(prompts, victim.word_embeddings(ids)), ids.tolist(), texts)


def block_timesteps(checks: int, train_steps: int = 1000) -> list[int]:
    """UnlearnDiffAtk's timesteps, one per block of steps: `checks` evenly spaced ones, the first at half a
    stride (T/n/2, T/n/2 + T/n, …), in increasing order."""
    stride = train_steps // checks
    return list(range(stride // 2, train_steps, stride))[:checks]


def nearest_tokens(vectors: torch.Tensor, state: SearchState) -> torch.Tensor:
    """The attack-vocabulary ids nearest to `vectors` (…, d) by cosine similarity (PEZ's projection)."""
    table = torch.nn.functional.normalize(state.table, dim=-1)
    return state.vocabulary[(torch.nn.functional.normalize(vectors, dim=-1) @ table.T).argmax(-1)]


def random_vocabulary_ids(state: SearchState, k: int, generator: torch.Generator) -> torch.Tensor:
    return state.vocabulary[torch.randint(len(state.vocabulary), (k,), generator=generator)]
