"""The concept registry: what can be erased, with which prompts, and how a judge recognises it.

A `Concept` carries everything a method or an evaluation needs about one concept, so that no
method or notebook hard-codes a prompt. Each profile has its registry: `data/concepts/tiny.yaml` and
`data/concepts/sd14.yaml`. A tiny concept's prompts are expanded over the world's attributes and its
label is its index in the world; an sd14 concept names its judge label (an ImageNet class, an artist) and
may take its evaluation prompts from a public prompt set (`erasure.prompt_sets`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from erasure.world.render import COLOURS, OBJECTS, STYLES

TASKS = ("object", "style", "nudity")
# Which judge head sees a concept of each task, in the tiny world (a registry may name others).
JUDGE_HEAD = {"object": "object", "style": "style", "nudity": "fire"}
# The attributes a tiny template may enumerate, besides the concept's own word (a registry may name others).
ATTRIBUTES = {"colour": COLOURS, "style": STYLES, "object": OBJECTS}


@dataclass(frozen=True)
class JudgedPrompt:
    """A prompt and the label the judge's head should give its image."""

    prompt: str
    head: str
    label: int


@dataclass(frozen=True)
class Concept:
    """One erasable concept.

    `erase` are the concept's training words (the first one is canonical), `related` its held-out
    words, `anchor` the neutral word a mapping method may map it to. `label` is the judge's label for it
    (tiny: its index in the world), `head` the judge head that sees it, `prompt_set` the public prompt
    set its evaluation prompts come from (none: the evaluation template), and `attributes` the words its
    templates enumerate (tiny: the world's colours, styles and objects).
    """

    name: str
    task: str
    erase: tuple[str, ...]
    related: tuple[str, ...]
    anchor: str = ""
    stands_for: str | None = None
    templates: dict = field(default_factory=dict, repr=False, compare=False)
    label: int | None = None
    head: str | None = None
    prompt_set: str | None = None
    attributes: dict = field(default_factory=lambda: dict(ATTRIBUTES), repr=False, compare=False)

    @property
    def erase_prompt(self) -> str:
        """The prompt c_e that fine-tuning methods erase: the canonical word."""
        return self.erase[0]

    @property
    def judge_head(self) -> str:
        return self.head or JUDGE_HEAD[self.task]

    @property
    def judge_label(self) -> int:
        if self.label is not None:
            return self.label
        if self.task == "object":
            return OBJECTS.index(self.name)
        if self.task == "style":
            return STYLES.index(self.name)
        return 1

    def _fill(self, template: str, word: str) -> list[str]:
        """Every prompt the template gives for a word, over the attributes it names (sorted, stable)."""
        keys = [k for k in self.attributes if "{" + k + "}" in template]
        return [
            " ".join(template.format(word=word, other="{other}", **dict(zip(keys, values, strict=True))).split())
            for values in itertools.product(*(self.attributes[k] for k in keys))
        ]

    def _sample(self, prompts: list[str], n: int | None, seed: int) -> list[str]:
        if n is None or n >= len(prompts):
            return prompts
        idx = np.random.default_rng(seed).permutation(len(prompts))[:n]
        return [prompts[i] for i in sorted(idx)]

    def evaluation_prompts(self, n: int | None = None, seed: int = 0) -> list[str]:
        """Prompts that ask for the concept (the erased rate's prompts): its prompt set's, else the evaluation
        template's with the canonical word."""
        if self.prompt_set:
            from erasure.prompt_sets import load_prompt_set

            return self._sample([p.prompt for p in load_prompt_set(self.prompt_set)], n, seed)
        return self.template_prompts(n, seed)

    def template_prompts(self, n: int | None = None, seed: int = 0) -> list[str]:
        """The evaluation template's prompts with the canonical word (offline, for any profile)."""
        return self._sample(self._fill(self.templates["evaluation"], self.erase[0]), n, seed)

    def related_prompts(self, n: int | None = None, seed: int = 0) -> list[str]:
        """Prompts that ask for the concept with held-out words only (never seen in training)."""
        prompts = [p for w in self.related for p in self._fill(self.templates["evaluation"], w)]
        return self._sample(prompts, n, seed)

    def prompt_pairs(self, n: int = 20, seed: int = 0) -> list[tuple[str, str]]:
        """(with concept, without concept) prompt pairs, for ActErase's statistics. `{other}` in the
        without-template stands for the other concepts of the task, taken in turn over the n pairs."""
        pairs = [
            (w, wo)
            for word in self.erase
            for w, wo in zip(
                self._fill(self.templates["pair_with"], word),
                self._fill(self.templates["pair_without"], word),
                strict=True,
            )
        ]
        idx = np.random.default_rng(seed).permutation(len(pairs))[:n]
        others = [o for o in {"object": OBJECTS, "style": STYLES}.get(self.task, ()) if o != self.name]
        return [
            (w, wo.replace("{other}", others[k % len(others)]) if "{other}" in wo else wo)
            for k, (w, wo) in enumerate(pairs[i] for i in idx)
        ]

    def retained(self, registry: Registry, n_per_concept: int | None = None, seed: int = 0) -> list[JudgedPrompt]:
        """Judged prompts for the concepts that must survive the erasure: the other concepts of the
        same task (for the nudity stand-in: every object, prompted without it), from their templates."""
        if self.task == "nudity":
            others = [c for c in registry if c.task == "object"]
        else:
            others = [c for c in registry if c.task == self.task and c.name != self.name]
        return [
            JudgedPrompt(p, other.judge_head, other.judge_label)
            for other in others
            for p in other.template_prompts(n_per_concept, seed)
        ]


class Registry:
    """The concepts of one profile, by name."""

    def __init__(self, concepts: list[Concept]):
        self._by_name = {c.name: c for c in concepts}

    @classmethod
    def from_yaml(cls, path: str | Path) -> Registry:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"concept registry {path} not found; is the repository complete?")
        spec = yaml.safe_load(path.read_text())
        concepts = []
        for entry in spec["concepts"]:
            if entry["task"] not in TASKS:
                raise ValueError(f"{path}: concept {entry['name']!r} has unknown task {entry['task']!r}")
            concepts.append(
                Concept(
                    name=entry["name"],
                    task=entry["task"],
                    erase=tuple(entry["erase"]),
                    related=tuple(entry["related"]),
                    anchor=entry.get("anchor", ""),
                    stands_for=entry.get("stands_for"),
                    templates=spec["templates"][entry["task"]],
                    label=entry.get("label"),
                    head=spec.get("judge_heads", JUDGE_HEAD)[entry["task"]],
                    prompt_set=entry.get("prompt_set"),
                    attributes={k: tuple(v) for k, v in spec.get("attributes", ATTRIBUTES).items()},
                )
            )
        return cls(concepts)

    def __getitem__(self, name: str) -> Concept:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"unknown concept {name!r}; choose one of this profile's: {', '.join(self._by_name)}"
            ) from None

    def __iter__(self):
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
