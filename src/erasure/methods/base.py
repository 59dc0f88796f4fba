"""The method protocol: every erasure method has the same face, so a table is a loop over methods.

    eraser = ActErase(rho=0.01)                  # or AEGIS(...), ESD(...), …
    erased = eraser.erase(pipe, concept)         # -> ErasedModel
    images = erased(prompts, seed=0)             # generates like a pipeline
    erased.save(path); ErasedModel.load(path, base=pipe)

An `ErasedModel` never changes the base pipeline it was made from: it applies its erasure only inside
`erased.applied()` (a context manager yielding the pipeline to sample from), so the base model and any
number of erased models can be evaluated side by side.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from erasure.pipeline import generate

ERASED_JSON = "erased.json"


class Eraser(Protocol):
    """What every erasure method implements."""

    name: ClassVar[str]

    def erase(self, pipe, concept) -> ErasedModel: ...


class ErasedModel:
    """A base pipeline plus one method's erasure of one concept (or several)."""

    #: method name -> ErasedModel subclass, filled by `register`; `load` dispatches on it.
    kinds: ClassVar[dict[str, type[ErasedModel]]] = {}
    method: ClassVar[str] = ""

    def __init__(self, base, concept: str, hyperparameters: dict, info: dict | None = None):
        self.base = base
        self.concept = concept
        self.hyperparameters = dict(hyperparameters)
        self.info = dict(info or {})

    @classmethod
    def register(cls, kind: type[ErasedModel]) -> type[ErasedModel]:
        cls.kinds[kind.method] = kind
        return kind

    @contextmanager
    def applied(self) -> Iterator[Any]:
        """Yields a pipeline that samples from the erased model; the base is untouched afterwards."""
        raise NotImplementedError

    def __call__(self, prompts: list[str], seed: int = 0, **sampler) -> np.ndarray:
        """uint8 images (N, H, W, 3) from the erased model, seeded as `erasure.pipeline.generate`."""
        with self.applied() as pipe:
            return generate(pipe, prompts, seed=seed, **sampler)

    # ---- persistence -------------------------------------------------------------------------
    def _save_files(self, folder: Path) -> None:
        """Writes the method's own files into `folder`."""
        raise NotImplementedError

    @classmethod
    def _load_files(cls, folder: Path, base, record: dict) -> ErasedModel:
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        """Saves into the folder `path`, atomically: a temporary sibling replaces it when complete.
        `erased.json` records the method, the concept, the hyperparameters and `info`."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            self._save_files(tmp)
            record = {
                "method": self.method,
                "concept": self.concept,
                "hyperparameters": self.hyperparameters,
                "info": self.info,
            }
            (tmp / ERASED_JSON).write_text(json.dumps(record, indent=1))
            if path.exists():
                shutil.rmtree(path)
            tmp.rename(path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @staticmethod
    def read_record(path: str | Path) -> dict:
        """The `erased.json` of a saved erased model, with a clear error when it is not one."""
        file = Path(path) / ERASED_JSON
        if not file.is_file():
            raise FileNotFoundError(
                f"{path} is not a saved erased model (no {ERASED_JSON}); make one with "
                "`python -m erasure erase --method … --concept … --out PATH`"
            )
        return json.loads(file.read_text())

    @classmethod
    def load(cls, path: str | Path, base) -> ErasedModel:
        """Loads a saved erased model onto the base pipeline it was made from."""
        record = cls.read_record(path)
        import erasure.methods  # noqa: F401  (registers every method's ErasedModel kind)

        kind = cls.kinds.get(record["method"])
        if kind is None:
            raise ValueError(f"{path}: unknown method {record['method']!r}; known: {', '.join(cls.kinds)}")
        return kind._load_files(Path(path), base, record)
