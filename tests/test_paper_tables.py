"""The paper-table notebooks' rows: every method of the package has a row, and a wrong row name is refused
with the choices; the FD and class columns; Table 6's variants and the mu sweep; the GPU cost table."""

import json

import pandas as pd
import pytest

from erasure.methods import AEGIS, ESD, METHODS
from erasure.paper_tables import (
    BASE,
    ROWS,
    aegis_ablations,
    aegis_sensitivity,
    class_column,
    fd_column,
    gpu_cost,
    paper_methods,
    table_methods,
)
from erasure.paths import REPO_ROOT
from erasure.profiles import load_profile
from erasure.store import ResultStore


def test_every_method_has_a_table_row():
    in_rows = {cls.name for cls, _ in ROWS.values()}
    assert set(METHODS) - in_rows == {"esd"}  # plain ESD is ESD-x on tiny, and both variants have rows
    for task in ("object", "style", "nudity"):
        assert set(paper_methods(task)) - {"base model"} <= set(ROWS)
    assert paper_methods("style")["ESD-x"] == "ESD" and paper_methods("object")["ESD-u"] == "ESD"


def test_table_methods_builds_each_row_at_the_profile_defaults_and_refuses_an_unknown_row():
    tiny = load_profile("tiny")
    methods = table_methods(tiny, ["SLD Max", "ESD-u"])
    assert list(methods) == ["SLD Max", "ESD-u"]
    assert methods["SLD Max"].sld_guidance_scale == 5000 and methods["ESD-u"].trainable == "unet_noncross"
    with pytest.raises(ValueError, match="unknown table rows \\['ESD'\\]; choose from ESD-u, ESD-x"):
        table_methods(tiny, ["ESD"])


def test_the_fd_column_holds_the_base_model_then_each_method_with_an_interval(tiny, tmp_path):
    column = fd_column(tiny, table_methods(tiny, ["UCE"]), "house", 32, 0, ResultStore(tmp_path))
    assert list(column.method) == [BASE, "UCE"]
    assert (column.fd > 0).all() and (column.fd_low < column.fd_high).all() and (column.n == 32).all()
    assert column["FD [95% CI]"].str.match(r"^\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]$").all()


def test_the_class_column_pools_every_training_word(tiny, tmp_path):
    column = class_column(tiny, table_methods(tiny, ["UCE"]), "house", 4, 0, ResultStore(tmp_path))
    assert list(column.method) == [BASE, "UCE"]
    words = set(tiny.concepts["house"].erase)
    for row in column.itertuples():
        assert set(row.by_word) == words and row.n == sum(w["n"] for w in row.by_word.values())
        assert row.low <= row.rate <= row.high
    assert column.rate.iloc[0] > column.rate.iloc[1]  # erasing house lowers the class rate


def test_table6_switches_one_part_of_aegis_per_row():
    tiny = load_profile("tiny")
    rows = aegis_ablations(tiny, tiny.concepts["fire"], 0)
    assert list(rows) == ["ESD", "w/o AET", "w/o PR", "w/o DGR", "omega fixed at 1", "AEGIS"]
    full = rows["AEGIS"]
    assert full == AEGIS.for_profile(tiny) and rows["ESD"] == ESD.for_profile(tiny)
    assert (rows["w/o AET"].aet, rows["w/o DGR"].dgr, rows["omega fixed at 1"].omega_fixed) == (False, False, 1.0)
    assert rows["w/o PR"].pr is False and len(rows["w/o PR"].retain_prompts) > 0
    assert all("fire" not in p for p in rows["w/o PR"].retain_prompts)
    for label in ("w/o AET", "w/o DGR", "omega fixed at 1"):  # each differs from AEGIS in its own switch only
        changed = {k for k, v in vars(rows[label]).items() if v != getattr(full, k)}
        assert len(changed) == 1, (label, changed)


def test_the_sensitivity_rows_sweep_mu_then_the_released_preset():
    rows = aegis_sensitivity(load_profile("tiny"), [0.05, 0.1])
    assert list(rows)[:2] == ["mu = 0.05", "mu = 0.1"]
    assert rows["mu = 0.05"].mu == 0.05 and rows["mu = 0.1"] == AEGIS.for_profile(load_profile("tiny"))
    released = rows["released code (mu 0.2, omega_max 1e6)"]
    assert (released.mu, released.omega_max, released.prefix_init) == (0.2, 1e6, "latest")


def test_the_gpu_cost_table_scales_an_iteration_to_a_paper_length_run():
    timings = json.loads((REPO_ROOT / "data/results/sd14_timings_h200.json").read_text())
    reference = pd.read_csv(REPO_ROOT / "data/reference/aegis_cost.csv")
    table = gpu_cost(timings, reference).set_index("method")
    assert table.loc["ESD", "value"] == pytest.approx(1000 * timings["esd_iteration"]["seconds_per_iteration"] / 3600)
    assert table.loc["UnlearnDiffAtk", "value"] == pytest.approx(1 / timings["unlearndiffatk"]["batched_prompts_per_s"])
    aegis = table.loc["AEGIS"]
    assert list(aegis.hardware) == ["one NVIDIA H200", "one NVIDIA RTX A6000"] and list(aegis.unit) == ["h", "h"]
