"""Shared fixtures: the real tiny profile, loaded once per test session."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny():
    from erasure.profiles import load_profile

    return load_profile("tiny")
