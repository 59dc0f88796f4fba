"""Where notebooks write. On tiny, every figure goes to `figures/<notebook>_<name>.png` and `.pdf` and every
table to `data/results/<notebook>_<name>.csv` (the committed results); another profile writes to its own
subfolder (`figures/sd14/`, `data/results/sd14/`); a smoke run writes under `.cache/smoke/` instead, so that
the test suite never overwrites the real results. Files are written to a temporary name, then renamed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from erasure.paths import FIGURES_DIR, REPO_ROOT, RESULTS_DIR


@dataclass(frozen=True)
class Outputs:
    """The figures and tables of one notebook, on one profile, in a full or a smoke run."""

    notebook: str
    profile: str = "tiny"
    smoke: bool = False

    @property
    def figures(self) -> Path:
        return self._folder(REPO_ROOT / ".cache/smoke/figures" if self.smoke else FIGURES_DIR)

    @property
    def results(self) -> Path:
        return self._folder(REPO_ROOT / ".cache/smoke/results" if self.smoke else RESULTS_DIR)

    def _folder(self, root: Path) -> Path:
        folder = root if self.profile == "tiny" else root / self.profile
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def figure(self, fig, name: str) -> Path:
        """Saves `fig` as PNG and PDF; returns the PNG's path."""
        folder = self.figures
        for ext in ("png", "pdf"):
            final = folder / f"{self.notebook}_{name}.{ext}"
            tmp = final.with_name(f".{final.stem}.tmp.{ext}")
            fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata={"CreationDate": None} if ext == "pdf" else None)
            tmp.replace(final)
        return folder / f"{self.notebook}_{name}.png"

    def table(self, df, name: str) -> Path:
        """Saves a pandas DataFrame as CSV; returns its path."""
        final = self.results / f"{self.notebook}_{name}.csv"
        tmp = final.with_name(f".{final.name}.tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(final)
        return final
