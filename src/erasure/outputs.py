"""Where notebooks write: every figure to `figures/<notebook>_<name>.png` and `.pdf`, every table to
`data/results/<notebook>_<name>.csv`; a smoke run writes under `.cache/smoke/` instead, so that the
test suite never overwrites the real results. Files are written to a temporary name, then renamed."""

from __future__ import annotations

from pathlib import Path

from erasure.paths import FIGURES_DIR, REPO_ROOT, RESULTS_DIR


def output_dirs(smoke: bool) -> tuple[Path, Path]:
    """(figures folder, results folder) for a full or a smoke run."""
    if smoke:
        return REPO_ROOT / ".cache/smoke/figures", REPO_ROOT / ".cache/smoke/results"
    return FIGURES_DIR, RESULTS_DIR


def save_figure(fig, notebook: str, name: str, smoke: bool = False) -> Path:
    """Saves `fig` as PNG and PDF; returns the PNG's path."""
    folder = output_dirs(smoke)[0]
    folder.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        final = folder / f"{notebook}_{name}.{ext}"
        tmp = final.with_name(f".{final.stem}.tmp.{ext}")
        fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"CreationDate": None} if ext == "pdf" else None)
        tmp.replace(final)
    return folder / f"{notebook}_{name}.png"


def save_table(df, notebook: str, name: str, smoke: bool = False) -> Path:
    """Saves a pandas DataFrame as CSV; returns its path."""
    folder = output_dirs(smoke)[1]
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{notebook}_{name}.csv"
    tmp = final.with_name(f".{final.name}.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(final)
    return final
