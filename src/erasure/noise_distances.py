"""The diagnostic distances of the AEGIS paper's method section, in our reading: how far apart the model's noise
predictions are inside the erased concept's class, before erasure (d0) and after (d1), and how far the adversarial
prompt an attack found lies from the erased prompt (d2). The paper's formulas are not in our sources; the reading
and its choices are in `docs/aegis.md` ("Diagnostic distances").

All three compare predictions eps(x_t, t, c) of one model on the same noisy latents, x_t being the base model's
image latent of the prompt (UnlearnDiffAtk's target, seed + i) noised at each t of `TIMESTEPS` with noise from
seed + i. A distance is the root mean square of the difference over t and every latent element, per prompt; a
column is its mean over the prompts with a 95% interval (normal, over prompts).

- d0 = E_w || eps_0(x_t, t, c_e) - eps_0(x_t, t, c_w) ||: the base model, the canonical prompt c_e against the
  same prompt with each other word w of the class (training synonyms and held-out words);
- d1: the same under the erased model: an erasure that moved only c_e's path leaves the class behind, and d1
  grows; one that moved the class together keeps it near d0 (the paper's "class-level residue");
- d2 = || eps(x_t, t, c_e) - eps(x_t, t, c_adv) ||, the erased model, on the prompts UnlearnDiffAtk attacked
  (those the model had erased): how far the attack moved the prediction from the erased prompt's.

Beside them, for scale, how far the erasure moved the erased prompt's own prediction: || eps(c_e) - eps_0(c_e) ||.
"""

from __future__ import annotations

import numpy as np
import torch

from erasure.attack_report import adversarial_text
from erasure.attacks import UnlearnDiffAtk
from erasure.attacks.base import Victim
from erasure.attacks.paraphrase import class_words
from erasure.evaluate.class_rate import word_prompts
from erasure.experiments import erased_model, eraser_key, stored
from erasure.robustness import records_of, run_attack
from erasure.store import ResultStore

#: The diffusion steps (of 1000) at which predictions are compared: the schedule's span, evenly.
TIMESTEPS = (100, 300, 500, 700, 900)


@torch.no_grad()
def noisy_latents(profile, prompts: list[str], seeds: list[int]) -> torch.Tensor:
    """x_t for each t of `TIMESTEPS` and prompt i: the base model's latent of prompt i from seeds[i] (UnlearnDiffAtk's
    target) noised with noise from seeds[i], (T, N, C, H, W)."""
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    x0 = profile.pipe(prompts, generator=generators, output_type="latent", **profile.sampler).images
    noise = torch.stack([torch.randn(x0.shape[1:], generator=torch.Generator().manual_seed(s)) for s in seeds])
    scheduler = profile.pipe.scheduler
    return torch.stack([scheduler.add_noise(x0, noise.to(x0.device), torch.tensor([t])) for t in TIMESTEPS])


@torch.no_grad()
def predicted_noise(unet, x: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
    """eps(x_t, t, c) for every t of `TIMESTEPS` and prompt, (T, N, C, H, W)."""
    conditioning = conditioning.to(x.device, x.dtype)
    return torch.stack(
        [unet(x_t, t, encoder_hidden_states=conditioning).sample for x_t, t in zip(x, TIMESTEPS, strict=True)]
    )


def rms(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Per prompt, the root mean square of a - b over t and the latent's elements, (N,)."""
    return (a.float() - b.float()).pow(2).mean(dim=(0, 2, 3, 4)).sqrt().cpu().numpy()


def mean_interval(values: np.ndarray) -> dict:
    """The mean of per-prompt values with its 95% normal interval and their number."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return {"mean": float(values.mean()) if len(values) else None, "low": None, "high": None, "n": len(values)}
    mean, half = float(values.mean()), float(1.96 * values.std(ddof=1) / np.sqrt(len(values)))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(values)}


def repeated(prompts: list[str], n: int) -> list[str]:
    """n prompts, `prompts` repeated in order where there are fewer (each repeat gets its own seed, as an attack's)."""
    return [prompts[i % len(prompts)] for i in range(n)]


def class_prompts(concept, n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """n of the canonical word's evaluation prompts (`repeated`), and the same prompts with each other word of the
    class."""
    prompts = word_prompts(concept, concept.erase[0], n, seed)
    others = [word_prompts(concept, word, n, seed) for word in class_words(concept)]
    for word, reworded in zip(class_words(concept), others, strict=True):
        if len(reworded) != len(prompts):
            raise ValueError(
                f"{concept.name}: {word!r} fills {len(reworded)} prompts, the canonical word {len(prompts)}"
            )
    return repeated(prompts, n), [repeated(words, n) for words in others]


def class_distance(
    victim: Victim, unet, x: torch.Tensor, canonical: torch.Tensor, others: list[list[str]]
) -> np.ndarray:
    """Per prompt, the mean over the class's other words of || eps(c_e) - eps(c_w) || (d0 or d1, by the model),
    `canonical` being eps(c_e)."""
    return np.mean([rms(canonical, predicted_noise(unet, x, victim.encode(words))) for words in others], axis=0)


def searched(records) -> list[int]:
    """The prompts the attack searched: those the model had erased (no success at checkpoint 0)."""
    return [i for i, r in enumerate(records.records) if len(r.budgets) > 1]


def adversarial_distance(victim: Victim, unet, x: torch.Tensor, records, concept) -> np.ndarray:
    """Per searched prompt (`searched`), || eps(c_e) - eps(c_adv) || (d2), on their latents `x`."""
    which = searched(records)
    prompts = [records.records[i].prompt for i in which]
    adversarial = [adversarial_text(records, i, concept) for i in which]
    return rms(predicted_noise(unet, x, victim.encode(prompts)), predicted_noise(unet, x, victim.encode(adversarial)))


def distances(profile, eraser, concept, n: int = 32, seed: int = 0, store: ResultStore | None = None) -> dict:
    """d0 (the base model), d1 and d2 (the model that erased `concept` with `eraser`) and the erased prompt's shift
    ("moved") on `n` prompts, each {"mean", "low", "high", "n"} (stored). d2 reads UnlearnDiffAtk's stored records
    of that model (`n` pairs)."""
    attack = UnlearnDiffAtk(seed=seed)
    params = {"model": eraser_key(profile, eraser, concept), "n": n, "seed": seed, "timesteps": list(TIMESTEPS)}

    def compute() -> dict:
        prompts, others = class_prompts(concept, n, seed)
        x = noisy_latents(profile, prompts, [seed + i for i in range(len(prompts))])
        records = records_of(run_attack(profile, attack, concept, eraser, n, seed, store=store))
        which = searched(records)
        attacked = [records.records[i].prompt for i in which]
        x_attacked = noisy_latents(profile, attacked, [records.seed + i for i in which]) if which else None
        base = Victim(profile, None, concept, [], [], seed)
        eps_0 = predicted_noise(profile.pipe.unet, x, base.encode(prompts))
        d0 = class_distance(base, profile.pipe.unet, x, eps_0, others)
        model = erased_model(profile, eraser, concept, store)
        victim = Victim(profile, model, concept, [], [], seed)
        with model.applied() as pipe:
            eps = predicted_noise(pipe.unet, x, victim.encode(prompts))
            d1 = class_distance(victim, pipe.unet, x, eps, others)
            d2 = adversarial_distance(victim, pipe.unet, x_attacked, records, concept) if which else np.zeros(0)
        moved = rms(eps, eps_0)
        return {
            "d0": mean_interval(d0),
            "d1": mean_interval(d1),
            "d2": mean_interval(d2),
            "moved": mean_interval(moved),
        }

    return stored(profile, "noise_distances", [__name__, type(eraser).__module__], params, compute, store)
