"""The trade-off sweep: every method of the paper tables has a strength knob on each profile, and each sweep
holds the method's own default, so that the tables' rows are points of the curves."""

import dataclasses

from erasure.paper_tables import ROWS, table_methods
from erasure.profiles import load_profile
from erasure.tradeoff import KNOBS, sweep


def test_every_table_method_has_a_knob_on_both_profiles():
    labels = {"SLD" if label.startswith("SLD") else label for label in ROWS}
    assert set(KNOBS["tiny"]) == set(KNOBS["sd14"]) == labels
    assert all(len(values) >= 2 for knobs in KNOBS.values() for _, values in knobs.values())


def test_each_tiny_sweep_holds_the_table_rows_and_sets_its_knob():
    tiny = load_profile("tiny")
    settings = sweep(tiny)
    defaults = table_methods(tiny)
    for label, (knob, values) in KNOBS["tiny"].items():
        mine = [(value, eraser) for method, _, value, eraser in settings if method == label]
        assert [value for value, _ in mine] == list(values)
        erasers = [eraser for _, eraser in mine]
        rows = [row for row in defaults if row == label or row.startswith(f"{label} ")]  # SLD: its three presets
        assert rows and all(defaults[row] in erasers for row in rows), label
        if knob != "preset":
            assert [getattr(eraser, knob) for eraser in erasers] == list(values)


def test_each_sd14_sweep_holds_the_sd14_default():
    for label, (knob, values) in KNOBS["sd14"].items():
        if knob == "preset":
            continue
        default = {f.name: f.default for f in dataclasses.fields(ROWS[label][0])}[knob]
        assert default in values, (label, knob, default)
