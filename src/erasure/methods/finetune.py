"""What the fine-tuning methods share (ESD, AEGIS): the trainable copy of the UNet and its frozen
original, the noisy latent drawn from the current model without data (ESD's recipe), the training
loop with its progress bar, CSV log, checkpoints and resume, and the fine-tuned erased model.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from erasure.fingerprint import pipeline_fingerprint
from erasure.methods.base import ErasedModel
from erasure.methods.defaults import profile_overrides
from erasure.methods.options import finite, require
from erasure.pipeline import quiet
from erasure.text import encode_prompts

TRAINABLE = ("unet_all", "unet_noncross", "unet_cross")
#: Tiny-profile overrides of the papers' settings, shared by ESD and AEGIS (a 2M-parameter UNet learns
#: at a larger lr and in fewer iterations; its sampler has 20 DDIM steps). Chosen on the tuning object heart
#: (notebook 04, section 3, n = 32 per prompt set): every group erases it, and only the cross-attention group
#: (ESD-x's) at lr 5e-4 keeps retained accuracy at 100% for both methods.
TINY = {"iterations": 200, "lr": 5e-4, "trainable": "unet_cross", "ddim_steps": 20, "checkpoint_every": 50}
DELTA_FILE = "unet_changed.safetensors"
LOG_FILE = "train_log.csv"


def trainable_parameters(unet, trainable: str) -> dict[str, torch.nn.Parameter]:
    """The parameter group a method fine-tunes: all of the UNet, all but the cross-attention
    (ESD-u), or only the cross-attention (ESD-x)."""
    if trainable not in TRAINABLE:
        raise ValueError(f"unknown trainable group {trainable!r}; choose one of {', '.join(TRAINABLE)}")
    keep = {
        "unet_all": lambda n: True,
        "unet_noncross": lambda n: "attn2" not in n,
        "unet_cross": lambda n: "attn2" in n,
    }[trainable]
    return {n: p for n, p in unet.named_parameters() if keep(n)}


@dataclass(frozen=True)
class FinetuneHyperparameters:
    """The loop's settings, shared by ESD and AEGIS (sd14 defaults: the papers')."""

    iterations: int = 1000
    lr: float = 1e-5
    trainable: str = "unet_all"
    negative_guidance: float = 1.0  # eta
    ddim_steps: int = 50  # S: the DDIM schedule z is drawn from
    sample_guidance: float = 3.0  # CFG while drawing z
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self):
        """Bad values fail here, before the UNet is copied."""
        name = getattr(self, "name", "finetune")
        require(self.iterations >= 1, name, f"iterations must be at least 1, got {self.iterations}")
        require(finite(self.lr) and self.lr > 0, name, f"lr must be a positive number, got {self.lr}")
        require(
            self.trainable in TRAINABLE,
            name,
            f"trainable must be one of {', '.join(TRAINABLE)}, got {self.trainable!r}",
        )
        require(finite(self.negative_guidance), name, f"negative_guidance must be finite, got {self.negative_guidance}")
        require(self.ddim_steps >= 1, name, f"ddim_steps must be at least 1, got {self.ddim_steps}")
        require(
            finite(self.sample_guidance) and self.sample_guidance >= 0,
            name,
            f"sample_guidance must be a number >= 0, got {self.sample_guidance}",
        )
        require(self.seed >= 0, name, f"seed must be >= 0, got {self.seed}")
        require(self.checkpoint_every >= 1, name, f"checkpoint_every must be at least 1, got {self.checkpoint_every}")

    @classmethod
    def for_profile(cls, profile, **overrides):
        """The method's defaults, the tiny profile's overrides (`TINY`) on tiny, then any overrides."""
        return cls(**{**profile_overrides(cls.name, profile, TINY), **overrides})


class Finetuner:
    """One fine-tuning run: theta (trainable copy) and theta_0 (the base UNet, frozen), the prompt
    embeddings, and the noisy-latent sampler."""

    def __init__(self, pipe, hp: FinetuneHyperparameters, concept):
        from diffusers import DDIMScheduler

        if pipe.unet.dtype != torch.float32:
            raise ValueError(
                f"fine-tuning needs the pipeline in float32 (as the authors' code trains), not {pipe.unet.dtype}: "
                "load it with dtype=torch.float32"
            )
        self.pipe, self.hp, self.concept = pipe, hp, concept
        #: Seconds spent before a resume (from the checkpoint's log), so times add up across runs.
        self.resumed_seconds = 0.0
        self.frozen = pipe.unet.eval().requires_grad_(False)
        self.unet = copy.deepcopy(pipe.unet).train()
        self.unet.requires_grad_(False)
        self.params = trainable_parameters(self.unet, hp.trainable)
        for p in self.params.values():
            p.requires_grad_(True)
        self.initial = {n: p.detach().clone() for n, p in self.params.items()}
        self.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
        self.scheduler.set_timesteps(hp.ddim_steps)
        self.generator = torch.Generator().manual_seed(hp.seed)
        self.null = self.encode([""])
        self.run_fingerprint = self._fingerprint()  # constant for the run: checked at every save and load

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return encode_prompts(self.pipe.tokenizer, self.pipe.text_encoder, prompts)

    @torch.no_grad()
    def noisy_latent(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z and t without data: draw a DDIM step k in {0..S-1}, run DDIM (eta 0) from Gaussian noise
        with the *current* model under guidance `sample_guidance` for k steps, and draw t uniformly
        inside step k's interval."""
        S, g = self.hp.ddim_steps, self.generator
        k = int(torch.randint(S, (1,), generator=g))
        size = self.unet.config.sample_size
        z = torch.randn(1, self.unet.config.in_channels, size, size, generator=g).to(self.unet.device)
        z = z * self.scheduler.init_noise_sigma
        self.unet.eval()
        for t in self.scheduler.timesteps[:k]:
            eps_null, eps_cond = self.unet(
                torch.cat([z, z]), t, encoder_hidden_states=torch.cat([self.null, cond])
            ).sample.chunk(2)
            z = self.scheduler.step(eps_null + self.hp.sample_guidance * (eps_cond - eps_null), t, z).prev_sample
        self.unet.train()
        hi = int(self.scheduler.timesteps[k])
        stride = self.scheduler.config.num_train_timesteps // S
        t = torch.randint(max(0, hi - stride + 1), hi + 1, (1,), generator=g)
        return z, t.to(z.device)

    def negative_target(self, z, t, cond: torch.Tensor) -> torch.Tensor:
        """T = eps_0(z, t, null) - eta * (eps_0(z, t, c) - eps_0(z, t, null)): the frozen model's
        prediction guided *away* from c (ESD's Eq. 2 target)."""
        with torch.no_grad():
            null, c = self.frozen(
                torch.cat([z, z]), t, encoder_hidden_states=torch.cat([self.null, cond])
            ).sample.chunk(2)
        return null - self.hp.negative_guidance * (c - null)

    def drift(self) -> float:
        """||theta - theta_0|| over the trainable tensors."""
        return float(sum(((p.detach() - self.initial[n]) ** 2).sum() for n, p in self.params.items()) ** 0.5)

    # ---- checkpoints -----------------------------------------------------------------------------
    def save_checkpoint(self, folder: Path, iteration: int, optimizer, extra: dict[str, torch.Tensor]) -> None:
        """Everything a resume needs: trainable weights, Adam's state, the RNG, the method's state."""
        tensors = {f"param.{n}": p.detach().contiguous() for n, p in self.params.items()}
        for name, p in self.params.items():
            for k, v in optimizer.state.get(p, {}).items():
                tensors[f"adam.{name}.{k}"] = v.detach().reshape(-1) if k == "step" else v.detach().contiguous()
        tensors["rng"] = self.generator.get_state()
        tensors["iteration"] = torch.tensor([iteration])
        tensors["hyperparameters_sha256"] = self.run_fingerprint
        tensors.update({f"extra.{k}": v.contiguous() for k, v in extra.items()})
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "checkpoint.safetensors.tmp"
        save_file(tensors, tmp)
        tmp.replace(folder / "checkpoint.safetensors")

    def _fingerprint(self) -> torch.Tensor:
        """What determines the run, as bytes: the method and its hyperparameters (all but the iteration
        count), the concept (its name and the prompt erased) and the base model's fingerprint."""
        key = {k: v for k, v in asdict(self.hp).items() if k not in ("iterations", "checkpoint_every")}
        run = [
            type(self.hp).__name__,
            key,
            self.concept.name,
            self.concept.erase_prompt,
            pipeline_fingerprint(self.pipe),
        ]
        digest = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).digest()
        return torch.tensor(list(digest), dtype=torch.uint8)

    def load_checkpoint(self, folder: Path, optimizer) -> tuple[int, dict[str, torch.Tensor]]:
        """Restores a checkpoint if there is one; returns (iterations done, the method's state)."""
        file = folder / "checkpoint.safetensors"
        if not file.is_file():
            return 0, {}
        tensors = load_file(file)
        if not torch.equal(tensors["hyperparameters_sha256"], self.run_fingerprint):
            raise ValueError(
                f"{file} was written by another run (another method, concept, base model or hyperparameters): "
                f"delete {folder} to start afresh (the command line's --overwrite does), or resume with the "
                "same settings"
            )
        with torch.no_grad():
            for n, p in self.params.items():
                p.copy_(tensors[f"param.{n}"])
        for n, p in self.params.items():
            state = {k.split(".")[-1]: v for k, v in tensors.items() if k.startswith(f"adam.{n}.")}
            if state:
                state["step"] = state["step"].reshape(())
                optimizer.state[p] = state
        self.generator.set_state(tensors["rng"])
        extra = {k[len("extra.") :]: v for k, v in tensors.items() if k.startswith("extra.")}
        return int(tensors["iteration"][0]), extra


def train(
    finetuner: Finetuner, step_fn, state: dict[str, torch.Tensor], checkpoint_dir: Path | None, desc: str
) -> list[dict]:
    """The shared loop: `step_fn(iteration) -> dict of logged values` computes the gradients (and
    may rectify them); Adam steps on them. With a `checkpoint_dir`, checkpoints (and the log so far)
    every `checkpoint_every` iterations and resumes from the last checkpoint there. Returns the log."""
    hp = finetuner.hp
    optimizer = torch.optim.Adam(finetuner.params.values(), lr=hp.lr)
    start, rows = 0, []
    if checkpoint_dir is not None:
        start, saved = finetuner.load_checkpoint(checkpoint_dir, optimizer)
        state.update(saved)
        rows = read_log(checkpoint_dir / LOG_FILE)[:start]
    finetuner.resumed_seconds = rows[-1]["seconds"] if rows else 0.0
    t0 = time.perf_counter()
    bar = tqdm(range(start, hp.iterations), desc=desc, initial=start, total=hp.iterations, leave=False)
    for it in bar:
        optimizer.zero_grad(set_to_none=True)
        row = {"iteration": it + 1, **step_fn(it)}
        optimizer.step()
        row["drift"] = finetuner.drift()
        row["seconds"] = finetuner.resumed_seconds + time.perf_counter() - t0
        rows.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4f}")
        if checkpoint_dir is not None and ((it + 1) % hp.checkpoint_every == 0 or it + 1 == hp.iterations):
            finetuner.save_checkpoint(checkpoint_dir, it + 1, optimizer, state)
            write_log(checkpoint_dir / LOG_FILE, rows)
    return rows


def read_log(file: Path) -> list[dict]:
    if not file.is_file():
        return []
    with file.open() as f:
        return [{k: int(v) if k == "iteration" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_log(file: Path, rows: list[dict]) -> None:
    """Writes the training log as CSV (atomically)."""
    if not rows:
        return
    tmp = file.with_name(file.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[-1]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(file)


class FineTunedModel(ErasedModel):
    """A base pipeline with some tensors of one of its components (the UNet, unless a subclass says
    otherwise) replaced by fine-tuned ones, saved in `delta_file`."""

    component = "unet"
    delta_file = DELTA_FILE
    files = (DELTA_FILE,)

    def __init__(
        self,
        base,
        concept: str,
        hyperparameters: dict,
        info: dict,
        changed: dict[str, torch.Tensor],
        log: list[dict] | None = None,
    ):
        super().__init__(base, concept, hyperparameters, info)
        self.changed = {n: t.to(torch.float16).to(torch.float32) for n, t in changed.items()}  # saved as fp16
        self.log = log or []
        self._pipe = None

    def changed_component(self):
        """A copy of the base pipeline's `component` with the fine-tuned tensors."""
        module = copy.deepcopy(getattr(self.base, self.component))
        missing = set(self.changed) - set(module.state_dict())
        if missing:
            raise ValueError(
                f"the erased model changes tensors this base {self.component} lacks: {sorted(missing)[:3]}…"
            )
        module.load_state_dict(self.changed, strict=False)
        return module.eval()

    def unet(self):
        """The erased model's UNet as a plain diffusers `UNet2DConditionModel` (the base one if it changed
        another component)."""
        return self.changed_component() if self.component == "unet" else self.base.unet

    @property
    def text_encoder(self):
        """The text encoder prompts are encoded with under this model (the fine-tuned one if it changed)."""
        with self.applied() as pipe:
            return pipe.text_encoder

    @contextmanager
    def applied(self) -> Iterator:
        from diffusers import StableDiffusionPipeline

        if self._pipe is None:
            components = {**self.base.components, self.component: self.changed_component()}
            self._pipe = quiet(StableDiffusionPipeline, **components)
            self._pipe.set_progress_bar_config(disable=True)
        yield self._pipe

    def _save_files(self, folder: Path) -> None:
        save_file({n: t.to(torch.float16).contiguous() for n, t in self.changed.items()}, folder / self.delta_file)
        write_log(folder / LOG_FILE, self.log)

    @classmethod
    def _load_files(cls, folder: Path, base, record: dict) -> FineTunedModel:
        changed = load_file(folder / cls.delta_file)
        return cls(
            base, record["concept"], record["hyperparameters"], record["info"], changed, read_log(folder / LOG_FILE)
        )


def finish(finetuner: Finetuner, kind: type[FineTunedModel], concept, hp, rows: list[dict], seconds: float):
    """The erased model from a finished run (only the trainable tensors that changed are kept);
    `seconds` is this process's time, to which a resumed run's earlier time is added."""
    changed = {n: p.detach().clone() for n, p in finetuner.params.items() if not torch.equal(p, finetuner.initial[n])}
    info = {
        "erase_seconds": finetuner.resumed_seconds + seconds,
        "iterations": hp.iterations,
        "changed_tensors": len(changed),
        "final_loss": rows[-1]["loss"] if rows else None,
    }
    return kind(finetuner.pipe, concept.name, asdict(hp), info, changed, rows)
