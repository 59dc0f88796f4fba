"""The pinned environment: pyproject.toml and environment.yml install exactly the same pins."""

import tomllib

import yaml

from erasure.check import pinned_requirements
from erasure.paths import REPO_ROOT


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(r.split("==") for r in reqs)


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return dict(r.split("==") for r in pip)


def test_every_dependency_is_pinned_exactly():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert req.count("==") == 1, f"{req} is not pinned with =="


def test_environment_yml_has_the_same_pins_as_pyproject():
    assert _environment_pins() == _pyproject_pins()


def test_environment_yml_asks_for_python_311():
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_installed_metadata_carries_the_pins():
    runtime = {k: v for k, v in _pyproject_pins().items() if k not in ("pytest", "pytest-xdist", "ruff")}
    assert pinned_requirements() == runtime
