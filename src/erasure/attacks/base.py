"""The attack protocol: an attack searches for prompts that bring an erased concept back, and records what
the judge saw at each checkpoint; success rates are computed from the records elsewhere
(`erasure.evaluate.asr`), as torchattacks keeps attacks apart from their evaluation.

    attack = UnlearnDiffAtk(k=3)
    records = attack.run(profile, erased, concept, prompts, seed=0)     # AttackRecords
    asr(records), asr_against_budget(records); records.save(folder)

Every attack follows one loop (UnlearnDiffAtk's): checkpoint 0 judges the plain prompt (Pre-ASR); then, for
the prompts it did not already break, `checks` blocks of search, each followed by one judged generation of
the current adversarial prompt; a prompt stops at its first success. All prompts are searched at once, in
one batch. Image i of a run is always generated from seed `seed + i`, as the plain prompt's, and every random
draw for prompt i comes from a generator seeded by `seed + i` too, so prompt i attacked alone with seed
`seed + i` gets the record it gets in the batch (for the per-prompt attacks; concept inversion learns one
vector from the whole set).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from erasure.text import encode_prompts, encode_with_prefix

RECORDS_CSV = "records.csv"
RECORDS_JSON = "attack.json"
EMBEDDINGS_FILE = "embeddings.safetensors"


@dataclass
class AttackRecord:
    """One attacked prompt: what the attack found and what the judge saw at each checkpoint.

    `budgets[c]` is the attack's spending at checkpoint c (0 for the plain prompt; optimisation steps,
    generations or draws after it), `verdicts[c]` whether the judge saw the concept there. A discrete attack's
    result is `ids` and `text` (the tokens it put in, or the whole prompt when it replaces it, `replaces`);
    a continuous one's is its vectors, kept in `AttackRecords.embeddings`."""

    prompt: str
    budgets: list[int]
    verdicts: list[bool]
    text: str = ""
    ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def first_success(self) -> int | None:
        """The budget at which the concept was first seen (0: with no attack), or None."""
        return next((b for b, v in zip(self.budgets, self.verdicts, strict=True) if v), None)


@dataclass
class AttackRecords:
    """The records of one attack on one model and concept, with what it takes to regenerate each image:
    the attack's settings, the seed (image i from seed + i), the sampler, and for continuous attacks the
    vectors they put into the prompt (`embeddings`, (N, k, d), or (1, k, d) for a universal attack)."""

    attack: str
    settings: dict
    concept: str
    model: str
    seed: int
    records: list[AttackRecord]
    embeddings: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.records)

    def to_dict(self) -> dict:
        """A JSON-able form (the result store's); embeddings as base64 fp16 with their shape."""
        out = {k: v for k, v in asdict(self).items() if k not in ("records", "embeddings")}
        out["records"] = [asdict(r) for r in self.records]
        if self.embeddings is not None:
            half = self.embeddings.to(torch.float16).contiguous()
            out["embeddings"] = {"shape": list(half.shape), "fp16": base64.b64encode(half.numpy().tobytes()).decode()}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> AttackRecords:
        embeddings = data.get("embeddings")
        if embeddings is not None:
            raw = np.frombuffer(base64.b64decode(embeddings["fp16"]), dtype=np.float16).reshape(embeddings["shape"])
            embeddings = torch.from_numpy(raw.copy()).float()
        fields = {k: v for k, v in data.items() if k not in ("records", "embeddings")}
        return cls(**fields, records=[AttackRecord(**r) for r in data["records"]], embeddings=embeddings)

    def table(self) -> pd.DataFrame:
        """One row per prompt: the prompt, the adversarial text and ids, the verdicts, the first success."""
        return pd.DataFrame(
            {
                "prompt": [r.prompt for r in self.records],
                "adversarial_text": [r.text for r in self.records],
                "adversarial_ids": [" ".join(map(str, r.ids)) for r in self.records],
                "budgets": [" ".join(map(str, r.budgets)) for r in self.records],
                "verdicts": ["".join("1" if v else "0" for v in r.verdicts) for r in self.records],
                "first_success": [r.first_success for r in self.records],
                "seconds": [r.seconds for r in self.records],
            }
        )

    def save(self, folder: str | Path) -> Path:
        """Writes `records.csv` (a row per prompt), `attack.json` (settings, seed, model) and, for continuous
        attacks, `embeddings.safetensors`, into a temporary sibling that then replaces `folder`."""
        from erasure.methods.base import replace_folder

        folder = Path(os.path.abspath(folder))
        tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(tmp / RECORDS_CSV, index=False)
        (tmp / RECORDS_JSON).write_text(json.dumps(self.to_dict() | {"embeddings": None}, indent=1))
        if self.embeddings is not None:
            save_file({"embeddings": self.embeddings.to(torch.float16).contiguous()}, tmp / EMBEDDINGS_FILE)
        replace_folder(tmp, folder)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> AttackRecords:
        folder = Path(folder)
        data = json.loads((folder / RECORDS_JSON).read_text())
        data.pop("embeddings", None)
        records = cls.from_dict(data)
        if (folder / EMBEDDINGS_FILE).is_file():
            records.embeddings = load_file(folder / EMBEDDINGS_FILE)["embeddings"].float()
        return records


class Unerased:
    """The base model in the place of an erased one: what the attacks are checked against (their power where
    no erasure hides anything)."""

    method = "base"

    def __init__(self, pipe):
        self.base = pipe

    @contextmanager
    def applied(self) -> Iterator[Any]:
        yield self.base


@dataclass
class Adversarial:
    """The current adversarial prompts of some prompts: their conditioning (N, L, d), and for discrete
    attacks their token ids and text."""

    conditioning: torch.Tensor
    ids: list[list[int]] | None = None
    texts: list[str] | None = None


def prompt_generator(image_seed: int, salt: int = 0) -> torch.Generator:
    """A prompt's own random stream, from its image seed (`seed + i` for prompt i of a run) and an attack's own
    `salt`: a prompt attacked alone with seed `seed + i` draws exactly what it draws as prompt i of a batch."""
    return torch.Generator().manual_seed(image_seed * 1_000_003 + salt)


def concept_seen(profile, concept, images: np.ndarray) -> np.ndarray:
    """Whether the profile's judge sees `concept` in each image (bool, (N,))."""
    return profile.judge.predict(images)[concept.judge_head] == concept.judge_label


@torch.no_grad()
def sample(pipe, conditioning: torch.Tensor, seeds: list[int], sampler: dict, batch_size: int = 32) -> np.ndarray:
    """uint8 images from prompt embeddings, image i from its own generator seeded `seeds[i]` (as
    `erasure.pipeline.generate` seeds them, so a plain prompt's image is the same by either)."""
    out = []
    for start in range(0, len(seeds), batch_size):
        images = pipe(
            prompt_embeds=conditioning[start : start + batch_size],
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds[start : start + batch_size]],
            output_type="np",
            **sampler,
        ).images
        out.append((np.asarray(images) * 255).round().astype(np.uint8))
    return np.concatenate(out)


@dataclass
class Victim:
    """What an attack runs against: the profile (base pipeline, judge, sampler), the model under attack, the
    concept, the attacked prompts and the prompts whose base-model images are the attack's targets."""

    profile: Any
    model: Any
    concept: Any
    prompts: list[str]
    targets: list[str]
    seed: int

    @property
    def tokenizer(self):
        return self.profile.pipe.tokenizer

    @property
    def text_encoder(self):
        """The attacked model's text encoder: AdvUnlearn's erasure lives in it; the base model and every other
        method encode with the base pipeline's."""
        return getattr(self.model, "text_encoder", self.profile.pipe.text_encoder)

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return encode_prompts(self.tokenizer, self.text_encoder, prompts)

    def with_tokens(self, prompts: list[str], tokens: torch.Tensor) -> torch.Tensor:
        """E([a] ⊕ c): `tokens` (N, k, d) in the word-embedding space put after the start token of each prompt
        (an empty prompt: the tokens alone), differentiable with respect to `tokens`."""
        return encode_with_prefix(self.tokenizer, self.text_encoder, prompts, tokens)

    def word_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        """The rows of the word-embedding table for `ids`, as float32 on the CPU, where the token searches keep
        their parameters (encoding moves their embeddings to the text encoder's device)."""
        return self.text_encoder.get_input_embeddings().weight[ids].detach().float().cpu()

    @torch.no_grad()
    def target_latents(self) -> torch.Tensor:
        """x_0 of each target: the base model's latent for the target prompt, from seed + i (UnlearnDiffAtk's
        target image, made by the model before erasure)."""
        pipe = self.profile.pipe
        generators = [torch.Generator().manual_seed(self.seed + i) for i in range(len(self.targets))]
        return pipe(self.targets, generator=generators, output_type="latent", **self.profile.sampler).images

    def judge(self, pipe, conditioning: torch.Tensor, which: list[int]) -> np.ndarray:
        """Whether the concept is seen in the images of prompts `which` under `conditioning`."""
        images = sample(pipe, conditioning, [self.seed + i for i in which], self.profile.sampler)
        return concept_seen(self.profile, self.concept, images)


class Attack:
    """An attack: `start` prepares its search state, `advance` runs one block of search on the active prompts
    (inside the attacked model's `applied()`), `current` gives their adversarial prompts. Subclasses are frozen
    dataclasses of their hyperparameters (their key in the result store)."""

    name: ClassVar[str]
    #: Whether a prompt stops at its first success (every optimising attack); a paraphrase sweep does not,
    #: so that each word is reported.
    stop_at_success: ClassVar[bool] = True
    #: Whether the attack's result is continuous vectors rather than tokens.
    continuous: ClassVar[bool] = False
    checks: int
    #: The attack's spending between two checkpoints, in its own unit.
    budget_per_check: ClassVar[int] = 1
    budget_unit: ClassVar[str] = "steps"

    def start(self, victim: Victim, active: list[int]) -> Any:
        raise NotImplementedError

    def prepare(self, victim: Victim, state: Any, active: list[int], check: int) -> None:
        """Work on the base model before a block (outside the attacked model's `applied()`); most need none."""

    def advance(self, victim: Victim, pipe, state: Any, active: list[int], check: int) -> None:
        raise NotImplementedError

    def current(self, victim: Victim, state: Any, active: list[int]) -> Adversarial:
        raise NotImplementedError

    def embeddings(self, state: Any) -> torch.Tensor | None:
        """A continuous attack's vectors for every prompt, to save with the records."""
        return None

    def control(self):
        """The random control of this attack: random tokens of the same length and place, judged as often."""
        from erasure.attacks.random_tokens import RandomTokens

        return RandomTokens(k=self.k, draws=self.checks, replace=getattr(self, "replaces", False), seed=self.seed)

    def settings(self) -> dict:
        return asdict(self)

    def run(self, profile, model, concept, prompts: list[str], seed: int = 0, targets=None) -> AttackRecords:
        """Attacks `model` (an erased model, or `Unerased(profile.pipe)`) on `prompts`; `targets` are the
        prompts whose base-model images the attack aims at (default: the prompts themselves)."""
        victim = Victim(profile, model, concept, list(prompts), list(targets or prompts), seed)
        started = time.perf_counter()
        n = len(prompts)
        with model.applied() as pipe:
            pipe.unet.requires_grad_(False)
            plain = victim.judge(pipe, victim.encode(victim.prompts), list(range(n)))
        records = [AttackRecord(p, [0], [bool(s)]) for p, s in zip(prompts, plain, strict=True)]
        active = [i for i in range(n) if not (plain[i] and self.stop_at_success)]
        state = self.start(victim, active) if active else None
        for check in range(1, self.checks + 1):
            if not active:
                break
            self.prepare(victim, state, active, check)
            with model.applied() as pipe:
                pipe.unet.requires_grad_(False)
                self.advance(victim, pipe, state, active, check)
                found = self.current(victim, state, active)
                seen = victim.judge(pipe, found.conditioning, active)
            for j, i in enumerate(active):
                record = records[i]
                record.budgets.append(check * self.budget_per_check)
                record.verdicts.append(bool(seen[j]))
                if found.ids is not None:
                    record.ids, record.text = found.ids[j], found.texts[j]
            active = [i for j, i in enumerate(active) if not (seen[j] and self.stop_at_success)]
        seconds = (time.perf_counter() - started) / max(n, 1)
        for record in records:
            record.seconds = seconds
        return AttackRecords(
            self.name,
            self.settings(),
            concept.name,
            getattr(model, "method", "base"),
            seed,
            records,
            self.embeddings(state) if state is not None else None,
        )
