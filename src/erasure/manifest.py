"""The MANIFEST.json of a shipped model folder: sha256 of every file, and how it was made."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "MANIFEST.json"


class ModelFilesError(RuntimeError):
    """A shipped model file is missing or differs from the one its manifest records."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(folder: Path, info: dict) -> None:
    """Records the sha256 of every file under `folder` next to `info`, in `folder/MANIFEST.json`."""
    files = {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    files.pop(MANIFEST, None)
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({**info, "files": files}, indent=1))
    tmp.replace(folder / MANIFEST)


def verify_manifest(folder: Path, regenerate: str = "python -m erasure.world.train") -> dict:
    """Checks every file the manifest lists; raises ModelFilesError naming what is wrong."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelFilesError(
            f"{path} is missing: the model folder {folder} is incomplete. Restore it with "
            f"`git checkout -- {folder}` or rebuild it with `{regenerate}`."
        )
    manifest = json.loads(path.read_text())
    bad = []
    for name, digest in manifest["files"].items():
        f = folder / name
        if not f.is_file():
            bad.append(f"{name} (missing)")
        elif sha256(f) != digest:
            bad.append(f"{name} (altered: sha256 differs from MANIFEST.json)")
    if bad:
        raise ModelFilesError(
            f"model files in {folder} do not match MANIFEST.json: {', '.join(bad)}. Restore them with "
            f"`git checkout -- {folder}` or rebuild them with `{regenerate}`."
        )
    return manifest
