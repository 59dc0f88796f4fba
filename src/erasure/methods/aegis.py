"""AEGIS (Li et al., ICLR 2026, arXiv 2602.06771): robust erasure by fine-tuning the UNet with an
adversarial erasure target (AET), an adversarial input prompt, and gradient regularization with
projection (GRP = PR + DGR), without retention data. Specification, values and deviations: docs/aegis.md.

Per iteration, on the loop ESD uses (`finetune.py`):
1. prompts with one learnable prefix token: c' = E([a'] ⊕ c_e) (the AET) and c* = E([a*] ⊕ c_e)
   (the attack prompt);
2. z, t from the current model under c_e, no data;
3. one signed step each (size beta): a* <- a* - beta sign grad ||eps_theta(z,t,c*) - y0||^2 and
   a' <- a' - beta sign grad (||eps_0(z,t,c') - y0||^2 + ||eps_0(z,t,c') - y_theta||^2), with
   y0 = eps_0(z,t,c_e), y_theta = eps_theta(z,t,c_e);
4. a new z under c'; L_e = ||eps_theta(z,t,c*) - T||^2 with T = eps_0(z,t,null) - eta (eps_0(z,t,c') -
   eps_0(z,t,null)) (negative guidance away from the AET); the only loss back-propagated;
5. GRP per trainable tensor: g_r = 2 (theta - theta_0) (PR, the drift), p = <g_e,g_r>/||g_r||^2 g_r,
   omega <- clip(omega - mu sign<g_e, p_prev>, 0, omega_max), and g_e - omega p where <g_e,g_r> < 0 (DGR).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from erasure.methods.base import ErasedModel
from erasure.methods.finetune import FineTunedModel, FinetuneHyperparameters, Finetuner, finish, train
from erasure.methods.options import finite, require
from erasure.text import encode_with_prefix, random_token_embeddings

PREFIX_INITS = ("random", "latest")
#: Where the authors' released code departs from the paper (docs/aegis.md: mu, omega_max, prefix_init).
RELEASED_CODE = {"mu": 0.2, "omega_max": 1e6, "prefix_init": "latest"}


def project_gradient(g_e: torch.Tensor, g_r: torch.Tensor) -> torch.Tensor | None:
    """p = (<g_e, g_r> / ||g_r||^2) g_r, the component of g_e along g_r; None when ||g_r|| = 0."""
    norm2 = (g_r * g_r).sum()
    if norm2 == 0:
        return None
    return (g_e * g_r).sum() / norm2 * g_r


def update_omega(omega: float, g_e: torch.Tensor, p_prev: torch.Tensor, mu: float, omega_max: float) -> float:
    """The signed hyper-gradient rule: omega <- clip(omega - mu sign<g_e, p_prev>, 0, omega_max)."""
    return float(min(max(omega - mu * float(torch.sign((g_e * p_prev).sum())), 0.0), omega_max))


def prefix_step(prefix: torch.Tensor, objective, beta: float) -> torch.Tensor:
    """One signed gradient step on a prefix embedding: a <- a - beta sign grad objective(a) (step 3)."""
    a = prefix.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(a), [a])
    return (a - beta * grad.sign()).detach()


def rectify(g_e: torch.Tensor, g_r: torch.Tensor, p: torch.Tensor | None, omega: float) -> torch.Tensor:
    """DGR: g_e - omega p where the erasure gradient conflicts with retention (<g_e, g_r> < 0), else g_e.
    At omega = 1 the result is orthogonal to g_r."""
    if p is None or (g_e * g_r).sum() >= 0:
        return g_e
    return g_e - omega * p


@dataclass(frozen=True)
class AEGIS(FinetuneHyperparameters):
    """AEGIS; sd14 defaults are the paper's (1000 iterations, lr 1e-5, all of the UNet, beta 1e-3,
    mu 0.1, omega_max 1, omega starting at 0, a fresh random prefix token every iteration). Switches give Table 6's
    ablations: `aet=False` (c' = c_e), `pr=False` (a retention-prompt loss instead of the drift),
    `dgr=False` (no rectification), `omega_fixed=1`."""

    name: ClassVar[str] = "aegis"
    #: Options `for_profile` reads besides the hyperparameters.
    profile_options: ClassVar[tuple[str, ...]] = ("preset",)
    trainable: str = "unet_all"
    aet: bool = True
    pr: bool = True
    dgr: bool = True
    omega_fixed: float | None = None
    omega_init: float = 0.0  # omega_0 of the adaptive rule: 0 in the paper and the released code
    beta: float = 1e-3
    mu: float = 0.1
    omega_max: float = 1.0
    prefix_init: str = "random"
    retain_prompts: tuple[str, ...] = ()  # used only with pr=False

    def __post_init__(self):
        super().__post_init__()
        require(
            self.prefix_init in PREFIX_INITS,
            self.name,
            f"prefix_init must be one of {', '.join(PREFIX_INITS)}, got {self.prefix_init!r}",
        )
        require(
            self.pr or bool(self.retain_prompts),
            self.name,
            "pr=false replaces the drift by a retention-prompt loss: give retain_prompts (--set retain_prompts=a,b)",
        )
        require(finite(self.beta) and self.beta > 0, self.name, f"beta must be a positive number, got {self.beta}")
        require(finite(self.mu) and self.mu >= 0, self.name, f"mu must be a number >= 0, got {self.mu}")
        require(self.omega_max >= 0, self.name, f"omega_max must be >= 0, got {self.omega_max}")
        require(
            0 <= self.omega_init <= self.omega_max,
            self.name,
            f"omega_init must lie in [0, omega_max = {self.omega_max}], got {self.omega_init}",
        )
        require(
            self.omega_fixed is None or (finite(self.omega_fixed) and self.omega_fixed >= 0),
            self.name,
            f"omega_fixed must be null (adaptive omega) or a number >= 0, got {self.omega_fixed}",
        )

    @classmethod
    def released_code(cls, **overrides) -> AEGIS:
        """The authors' released code's defaults (mu 0.2, omega_max 1e6, warm-started prefixes)."""
        return cls(**{**RELEASED_CODE, **overrides})

    @classmethod
    def for_profile(cls, profile, **overrides) -> AEGIS:
        """As for ESD; `preset="released_code"` starts from the released code's defaults."""
        preset = overrides.pop("preset", None)
        require(preset in (None, "released_code"), cls.name, f"preset must be released_code, got {preset!r}")
        if preset == "released_code":
            overrides = {**RELEASED_CODE, **overrides}
        return super().for_profile(profile, **overrides)

    def erase(self, pipe, concept, checkpoint_dir: Path | None = None) -> AEGISModel:
        start = time.perf_counter()
        ft = Finetuner(pipe, self, concept)
        tok, te = pipe.tokenizer, pipe.text_encoder
        prompt = [concept.erase_prompt]
        c_e = ft.encode(prompt)
        encode = lambda a: encode_with_prefix(tok, te, prompt, a)
        names = list(ft.params)
        state = {
            "a_star": random_token_embeddings(te, 1, ft.generator),
            "a_prime": random_token_embeddings(te, 1, ft.generator),
            "omega": torch.full(
                (len(names),), float(self.omega_init if self.omega_fixed is None else self.omega_fixed)
            ),
        }
        retain = ft.encode(list(self.retain_prompts)) if not self.pr else None
        # For the log: the centroid of the concept's phrasings (training and held-out words), which
        # the AET is meant to track (AEGIS's "concept centre").
        centroid = ft.encode(list(concept.erase + concept.related)).mean(dim=(0, 1))

        def step(iteration: int) -> dict:
            if self.prefix_init == "random":
                state["a_star"] = random_token_embeddings(te, 1, ft.generator)
                state["a_prime"] = random_token_embeddings(te, 1, ft.generator)
            # 2-3. z under c_e; one signed step for the attack prompt and for the AET.
            z, t = ft.noisy_latent(c_e)
            with torch.no_grad():
                y0 = ft.frozen(z, t, encoder_hidden_states=c_e).sample
                y_theta = ft.unet(z, t, encoder_hidden_states=c_e).sample
            attack = lambda a: F.mse_loss(ft.unet(z, t, encoder_hidden_states=encode(a)).sample, y0)
            state["a_star"] = prefix_step(state["a_star"], attack, self.beta)
            if self.aet:
                frozen = lambda a: ft.frozen(z, t, encoder_hidden_states=encode(a)).sample
                target = lambda a: F.mse_loss(eps0 := frozen(a), y0) + F.mse_loss(eps0, y_theta)
                state["a_prime"] = prefix_step(state["a_prime"], target, self.beta)
            with torch.no_grad():
                c_prime = encode(state["a_prime"]) if self.aet else c_e
                c_star = encode(state["a_star"])
            # 4. the erasure loss at the adversarial prompt, away from the AET.
            z, t = ft.noisy_latent(c_prime)
            g_r = retention_gradients(z, t) if retain is not None else None
            loss = F.mse_loss(ft.unet(z, t, encoder_hidden_states=c_star).sample, ft.negative_target(z, t, c_prime))
            loss.backward()
            # 5. GRP, tensor by tensor.
            cos = F.cosine_similarity(c_prime.mean(dim=(0, 1)), centroid, dim=0)
            return {"loss": loss.item(), "aet_cos_centroid": float(cos), **grp(g_r)}

        def retention_gradients(z, t) -> dict[str, torch.Tensor]:
            """Without PR (ablation): g_r from ||eps_theta(z,t,c_r) - eps_0(z,t,c_r)||^2 on retained prompts."""
            c_r = retain[int(torch.randint(len(retain), (1,), generator=ft.generator))][None]
            with torch.no_grad():
                ref = ft.frozen(z, t, encoder_hidden_states=c_r).sample
            grads = torch.autograd.grad(
                F.mse_loss(ft.unet(z, t, encoder_hidden_states=c_r).sample, ref),
                list(ft.params.values()),
                allow_unused=True,
            )
            return {
                n: torch.zeros_like(p) if g is None else g for (n, p), g in zip(ft.params.items(), grads, strict=True)
            }

        def grp(g_r_given) -> dict:
            cosines, rectified = [], 0
            for j, (n, param) in enumerate(ft.params.items()):
                g_e = param.grad
                if g_e is None:
                    continue
                g_r = g_r_given[n] if g_r_given is not None else 2 * (param.detach() - ft.initial[n])
                p = project_gradient(g_e, g_r)
                if p is None:
                    continue
                denom = g_e.norm() * g_r.norm()
                cosines.append(float((g_e * g_r).sum() / denom) if denom > 0 else 0.0)
                if self.omega_fixed is None:
                    previous = state.get(f"p_prev.{n}", p)
                    state["omega"][j] = update_omega(float(state["omega"][j]), g_e, previous, self.mu, self.omega_max)
                state[f"p_prev.{n}"] = p.detach()
                if self.dgr and (g_e * g_r).sum() < 0:
                    param.grad = rectify(g_e, g_r, p, float(state["omega"][j]))
                    rectified += 1
            return {
                "cos_ge_gr": sum(cosines) / len(cosines) if cosines else float("nan"),
                "rectified_share": rectified / len(names),
                "omega_mean": float(state["omega"].mean()),
            }

        rows = train(ft, step, state, checkpoint_dir, desc=f"AEGIS {concept.name}")
        return finish(ft, AEGISModel, concept, self, rows, time.perf_counter() - start)


@ErasedModel.register
class AEGISModel(FineTunedModel):
    method = "aegis"
