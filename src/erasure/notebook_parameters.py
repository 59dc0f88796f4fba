"""The parameters a notebook is given on a profile other than tiny (`notebooks/parameters/<profile>.yaml`),
as papermill reads them: `python -m erasure.notebook_parameters sd14 02_acterase [--smoke]` prints them as
YAML. tiny needs none: its values are those of each notebook's parameters cell. A notebook with nothing to
show on a profile names why under `skip:`, and `--skip-reason` prints that reason (nothing when it runs)."""

from __future__ import annotations

import argparse
import sys

import yaml

from erasure.paths import REPO_ROOT

PARAMETERS_DIR = REPO_ROOT / "notebooks" / "parameters"


def notebook_parameters(profile: str, notebook: str, smoke: bool = False) -> dict:
    """The notebook's parameters on `profile`; a smoke run's `smoke:` values replace the full run's."""
    if profile == "tiny":
        return {}
    values = _entry(profile, notebook)
    values.pop("skip", None)
    smoke_values = values.pop("smoke", {})
    return {**values, **smoke_values} if smoke else values


def skip_reason(profile: str, notebook: str) -> str:
    """Why the notebook does not run on `profile` ("" when it does)."""
    if profile == "tiny":
        return ""
    return _entry(profile, notebook).get("skip", "")


def _entry(profile: str, notebook: str) -> dict:
    file = PARAMETERS_DIR / f"{profile}.yaml"
    if not file.is_file():
        raise FileNotFoundError(f"{file} is missing: the notebooks have no parameters for this profile")
    by_notebook = yaml.safe_load(file.read_text())
    if notebook not in by_notebook:
        raise KeyError(f"{file} gives no parameters for {notebook}: add a `{notebook}:` entry (`{{}}` for none)")
    return dict(by_notebook[notebook] or {})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("notebook", help="its name without .ipynb, e.g. 02_acterase")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--skip-reason", action="store_true", help="print why the notebook does not run, if it does not"
    )
    args = parser.parse_args(argv)
    if args.skip_reason:
        print(skip_reason(args.profile, args.notebook))
    else:
        yaml.safe_dump(notebook_parameters(args.profile, args.notebook, args.smoke), sys.stdout)


if __name__ == "__main__":
    main()
