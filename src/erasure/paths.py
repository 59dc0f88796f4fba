"""Where the artifact's files live, found from the package's own location (no hard-coded paths)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data"
TINY_MODEL_DIR = DATA_DIR / "models" / "tiny"
CONCEPTS_DIR = DATA_DIR / "concepts"
RESULTS_DIR = DATA_DIR / "results"
FIGURES_DIR = REPO_ROOT / "figures"
