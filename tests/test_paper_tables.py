"""The paper-table notebooks' rows: every method of the package has a row, and a wrong row name is refused
with the choices; the FD column."""

import pytest

from erasure.methods import METHODS
from erasure.paper_tables import BASE, ROWS, class_column, fd_column, paper_methods, table_methods
from erasure.profiles import load_profile
from erasure.store import ResultStore


def test_every_method_has_a_table_row():
    in_rows = {cls.name for cls, _ in ROWS.values()}
    assert set(METHODS) - in_rows == {"esd"}  # plain ESD is ESD-x on tiny, and both variants have rows
    for task in ("object", "style", "unsafe"):
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
