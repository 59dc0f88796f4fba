"""The method protocol: every erasure method has the same face, so a table is a loop over methods.

    eraser = ActErase(rho=0.01)                  # or AEGIS(...), ESD(...), …
    erased = eraser.erase(pipe, concept)         # -> ErasedModel
    images = erased(prompts, seed=0)             # generates like a pipeline
    erased.save(path); ErasedModel.load(path, base=pipe)
    erased.export(folder)                        # a plain diffusers pipeline folder (fine-tuned methods)

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
from safetensors import SafetensorError

from erasure.fingerprint import pipeline_fingerprint
from erasure.pipeline import generate

ERASED_JSON = "erased.json"
EXPORT_JSON = "export.json"
#: The marker files of the folders this artifact writes (a saved erased model, an exported pipeline):
#: only such a folder may be replaced by an output.
OUTPUT_MARKERS = (ERASED_JSON, EXPORT_JSON)


class Eraser(Protocol):
    """What every erasure method implements."""

    name: ClassVar[str]

    def erase(self, pipe, concept) -> ErasedModel: ...


class ErasedModel:
    """A base pipeline plus one method's erasure of one concept (or several)."""

    #: method name -> ErasedModel subclass, filled by `register`; `load` dispatches on it.
    kinds: ClassVar[dict[str, type[ErasedModel]]] = {}
    method: ClassVar[str] = ""
    #: The method's own files in a saved folder, checked before loading.
    files: ClassVar[tuple[str, ...]] = ()
    #: Why `export` cannot write this method's erased model as a diffusers folder (None: it can).
    export_refusal: ClassVar[str | None] = None

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

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Saves into the folder `path`, atomically: a temporary sibling replaces it when complete.
        `erased.json` records the method, the concept, the hyperparameters, `info` and the fingerprint
        of the base model. An existing `path` is replaced only if it is an empty folder, or a saved
        erased model and `overwrite` is set: nothing else is ever deleted."""
        path = writable_folder(path, overwrite)
        record = {
            "method": self.method,
            "concept": self.concept,
            "hyperparameters": self.hyperparameters,
            "info": self.info,
            "base_model": pipeline_fingerprint(self.base),
        }
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            self._save_files(tmp)
            (tmp / ERASED_JSON).write_text(json.dumps(record, indent=1))
            replace_folder(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    def export(self, path: str | Path, overwrite: bool = False) -> Path:
        """Writes the erased model as a plain diffusers pipeline folder, which
        `StableDiffusionPipeline.from_pretrained(path)` loads and which draws the erased model's images.
        A method whose erasure is not in its weights (`export_refusal`) refuses, saying why."""
        if self.export_refusal:
            raise ValueError(self.export_refusal)
        path = writable_folder(path, overwrite)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with self.applied() as pipe:
                pipe.save_pretrained(tmp, safe_serialization=True)
            record = {"method": self.method, "concept": self.concept, "hyperparameters": self.hyperparameters}
            (tmp / EXPORT_JSON).write_text(json.dumps(record, indent=1))
            replace_folder(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return path

    @staticmethod
    def read_record(path: str | Path) -> dict:
        """The `erased.json` of a saved erased model, checked (keys, types, a known method, the method's
        files present) so that a damaged folder fails before any sampling, with the file and the fix named."""
        import erasure.methods  # noqa: F401  (registers every method's ErasedModel kind)

        file = Path(path) / ERASED_JSON
        remake = "re-create it with `python -m erasure erase --method … --concept … --out PATH --overwrite`"
        if not file.is_file():
            raise FileNotFoundError(
                f"{path} is not a saved erased model (no {ERASED_JSON}); make one with "
                "`python -m erasure erase --method … --concept … --out PATH`"
            )
        try:
            record = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{file} is not valid JSON ({e}); {remake}") from None
        wanted = {"method": str, "concept": str, "hyperparameters": dict, "info": dict}
        if not isinstance(record, dict) or any(not isinstance(record.get(k), t) for k, t in wanted.items()):
            raise ValueError(f"{file} lacks one of {', '.join(wanted)} (or has the wrong type); {remake}")
        kind = ErasedModel.kinds.get(record["method"])
        if kind is None:
            raise ValueError(
                f"{file}: unknown method {record['method']!r} (known: {', '.join(ErasedModel.kinds)}); {remake}"
            )
        for name in kind.files:
            if not (Path(path) / name).is_file():
                raise FileNotFoundError(f"{Path(path) / name} is missing: the erased model is incomplete; {remake}")
        return record

    @classmethod
    def load(cls, path: str | Path, base) -> ErasedModel:
        """Loads a saved erased model onto the base pipeline it was made from (another base is refused)."""
        record = cls.read_record(path)
        made_from, this_one = record.get("base_model"), pipeline_fingerprint(base)
        if made_from is not None and made_from != this_one:
            raise ValueError(
                f"{path} was made from another base model (fingerprint {made_from}, this one "
                f"{this_one}); load it with the profile it was made on, or erase again on this one"
            )
        try:
            return cls.kinds[record["method"]]._load_files(Path(path), base, record)
        except SafetensorError as e:
            raise ValueError(
                f"{path}: a weights file is damaged ({e}); re-create it with "
                "`python -m erasure erase --method … --concept … --out PATH --overwrite`"
            ) from None


def writable_folder(path: str | Path, overwrite: bool) -> Path:
    """`path` made absolute (so `sub/..` names the folder it means), checked to be a place an output
    folder may go: absent, an empty folder, or (with `overwrite`) a folder this artifact wrote, as its
    marker file (`erased.json` or `export.json`) shows. Anything else raises, and nothing is touched."""
    path = Path(os.path.abspath(path))
    if path == Path(path.anchor):
        raise ValueError(f"{path} is a file-system root; give a folder below it")
    if not path.exists():
        parent = next(p for p in path.parents if p.exists())
        if not parent.is_dir():
            raise NotADirectoryError(f"cannot create {path}: {parent} is a file; choose another output path")
        return path
    if not path.is_dir():
        raise FileExistsError(f"{path} exists and is a file; choose another output path")
    if not any(path.iterdir()):
        return path
    ours = [m for m in OUTPUT_MARKERS if (path / m).is_file()]
    if not ours:
        raise FileExistsError(
            f"{path} exists and holds files this artifact did not write; choose another output path "
            "(it is never emptied)"
        )
    if not overwrite:
        raise FileExistsError(
            f"{path} already holds a saved model; pass --overwrite to replace it, or choose another path"
        )
    return path


def replace_folder(new: Path, path: Path) -> None:
    """Puts the finished folder `new` at `path`; an old folder there is moved aside first and removed
    only once `new` is in place."""
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    new.rename(path)
    shutil.rmtree(old, ignore_errors=True)
