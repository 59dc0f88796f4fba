"""The sd14 profile's prompt sets: the public files the robust-erasure papers evaluate on, read from a user's
copy, or fetched from their public source when this machine is online. Nothing of them is in the repository.

| name     | records | what                                                                              |
|----------|---------|-----------------------------------------------------------------------------------|
| i2p      | 4,703   | Inappropriate Image Prompts, every category, with seed, guidance, nudity share     |
| nudity   | 142     | UnlearnDiffAtk's nudity set: I2P prompts whose SD v1.4 image NudeNet scored > 0.75 |
| vangogh  | 50      | "<painting> by Vincent van Gogh", per-prompt seed, guidance 7.5 (ESD's set)        |
| church   | 50      | church prompts, per-prompt seed, guidance 7.5                                      |
| coco_10k | 9,969   | COCO captions with seeds, the utility set for FID and CLIP score ("10k": 10,000 lines) |

The folder is `$ERASURE_PROMPTS` or `.cache/prompts/` of the repository; `load_prompt_set(name)` reads
`<folder>/<name>.csv`, and, when the file is missing and `fetch` is true, downloads it there first.
"""

from __future__ import annotations

import csv
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from erasure.paths import REPO_ROOT

#: Where every file comes from: the UnlearnDiffAtk repository's `prompts/` (the AEGIS and AdvUnlearn papers
#: evaluate on these same files).
SOURCE = "https://raw.githubusercontent.com/OPTML-Group/Diffusion-MU-Attack/main/prompts"
#: Each set's record count, as the public files hold them (a file of another length is another version).
RECORDS = {"i2p": 4703, "nudity": 142, "vangogh": 50, "church": 50, "coco_10k": 9969}


@dataclass(frozen=True)
class Prompt:
    """One evaluation prompt: its text, the seed and guidance its paper generates it with, its case number,
    and what else its file says of it (I2P: categories, nudity percentage, …)."""

    prompt: str
    seed: int
    guidance: float | None
    case: str
    extra: dict = field(default_factory=dict, compare=False)


def prompts_folder() -> Path:
    return Path(os.environ.get("ERASURE_PROMPTS") or REPO_ROOT / ".cache" / "prompts")


def source_url(name: str) -> str:
    return f"{SOURCE}/{name}.csv"


def check_name(name: str) -> None:
    if name not in RECORDS:
        raise ValueError(f"unknown prompt set {name!r}; choose one of {', '.join(RECORDS)}")


def fetch_prompt_set(name: str, folder: Path) -> Path:
    """Downloads `name` into `folder` (written whole or not at all); a clear error when offline."""
    check_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    target, tmp = folder / f"{name}.csv", folder / f".{name}.csv.tmp-{os.getpid()}"
    try:
        with urllib.request.urlopen(source_url(name), timeout=30) as response:
            tmp.write_bytes(response.read())
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise FileNotFoundError(
            f"the {name} prompt set is not in {folder} and could not be downloaded ({e}); copy {source_url(name)} "
            f"to {target} (or set ERASURE_PROMPTS to a folder holding {name}.csv)"
        ) from None
    tmp.replace(target)
    return target


def read_prompt_set(file: Path) -> list[Prompt]:
    """The records of one prompt-set CSV (quoted newlines inside captions are part of their record)."""
    with file.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "prompt" not in rows[0] or "evaluation_seed" not in rows[0]:
        raise ValueError(f"{file} is not a prompt set: it needs the columns prompt and evaluation_seed")
    known = {"prompt", "evaluation_seed", "evaluation_guidance", "case_number"}
    return [
        Prompt(
            prompt=row["prompt"].strip(),
            seed=int(row["evaluation_seed"]),
            guidance=float(row["evaluation_guidance"]) if row.get("evaluation_guidance") else None,
            case=row.get("case_number") or str(i),
            extra={k: v for k, v in row.items() if k and k not in known and not k.startswith("Unnamed")},
        )
        for i, row in enumerate(rows)
    ]


def load_prompt_set(name: str, folder: str | Path | None = None, fetch: bool = True) -> list[Prompt]:
    """The prompt set `name` from `folder` (default `prompts_folder()`), downloaded first if it is missing and
    `fetch` is true. A file with another number of records than the public one is refused, naming both."""
    check_name(name)
    folder = Path(folder) if folder is not None else prompts_folder()
    file = folder / f"{name}.csv"
    if not file.is_file():
        if not fetch:
            raise FileNotFoundError(
                f"the {name} prompt set is not in {folder}; copy {source_url(name)} to {file} "
                "(or set ERASURE_PROMPTS to a folder holding it)"
            )
        file = fetch_prompt_set(name, folder)
    prompts = read_prompt_set(file)
    if len(prompts) != RECORDS[name]:
        raise ValueError(
            f"{file} holds {len(prompts)} records, the public {name} set {RECORDS[name]}: another version? "
            f"Replace it with {source_url(name)}"
        )
    return prompts
