"""Robust concept erasure in text-to-image diffusion models: AEGIS, ActErase and baselines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("erasure")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
