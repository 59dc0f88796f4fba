"""The committed result store: replayed, it serves its entries and never computes; a missing entry names
what changed; and a sample of its entries, recomputed from scratch, is what the code gives."""

import json
import math

import pytest

from erasure.experiments import recompute, stored_eraser
from erasure.methods.acterase import TINY
from erasure.prune import prune
from erasure.store import DEFAULT_ROOT, ResultStore, StaleResult, module_digests

KEY = {"kind": "base", "concept": "house", "n": 4, "seed": 0, "code": "c1"}
MODULES = ["erasure.methods.acterase"]


def test_a_replayed_store_serves_entries_and_names_the_module_that_changed(tmp_path):
    ResultStore(tmp_path).result(KEY, lambda: {"erased_rate": 0.5}, MODULES)
    replay = ResultStore(tmp_path, replay=True)
    assert replay.result(KEY, None) == {"erased_rate": 0.5} and replay.computed == []
    # the same question asked of other code: the entry's recorded digest of acterase.py no longer matches
    (entry_file,) = tmp_path.glob("*.json")
    entry = json.loads(entry_file.read_text())
    entry["modules"]["erasure.methods.acterase"] = "an older digest"
    entry_file.write_text(json.dumps(entry))
    with pytest.raises(StaleResult, match=r"computed before a change to erasure\.methods\.acterase"):
        replay.result({**KEY, "code": "c2"}, None)
    with pytest.raises(StaleResult, match=r"no result .* was ever stored"):
        replay.result({**KEY, "n": 8}, None)


def test_only_the_default_store_replays_and_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("ERASURE_REPLAY", "1")
    monkeypatch.delenv("ERASURE_STORE", raising=False)
    assert ResultStore().replay and ResultStore().root == DEFAULT_ROOT
    assert not ResultStore(tmp_path).replay  # a test's own store computes what it lacks
    monkeypatch.setenv("ERASURE_REPLAY", "0")
    assert not ResultStore().replay


def test_entries_record_the_digest_of_every_module_they_ran(tmp_path):
    ResultStore(tmp_path).result(KEY, lambda: {}, MODULES)
    (entry_file,) = tmp_path.glob("*.json")
    recorded = json.loads(entry_file.read_text())["modules"]
    assert recorded == module_digests(MODULES)
    assert {"erasure.methods.acterase", "erasure.pipeline"} <= set(recorded)


def recomputable(tiny, key: dict) -> bool:
    """An entry of the registry's own concept (not a variant with other prompt pairs)."""
    if "concept_inputs" not in key:
        return True
    return stored_eraser(key).concept_inputs(tiny.concepts[key["concept"]]) == key["concept_inputs"]


def test_prune_removes_stale_entries_and_after_a_full_run_unused_ones(tmp_path):
    store = ResultStore(tmp_path)
    for n in (1, 2, 3):
        store.result({**KEY, "n": n}, lambda: {}, MODULES)
    first, second, third = store.computed
    entry = json.loads((tmp_path / f"{first}.json").read_text())
    entry["modules"]["erasure.pipeline"] = "the digest of an older pipeline.py"
    (tmp_path / f"{first}.json").write_text(json.dumps(entry))
    assert [f.stem for f in prune(tmp_path)] == [first]
    assert [f.stem for f in prune(tmp_path, used={second})] == [third]
    assert [f.stem for f in tmp_path.glob("*.json")] == [second]


def committed(tiny, kind: str, method: str | None = None) -> dict:
    """The committed entry of `kind` (and `method`) with the fewest images: the cheapest to recompute."""
    entries = [json.loads(f.read_text()) for f in DEFAULT_ROOT.glob("*.json")]
    chosen = [
        e
        for e in entries
        if e["key"]["kind"] == kind
        and e["key"].get("method") == method
        and e["key"].get("attack") is None
        and (method != "acterase" or e["key"]["hyperparameters"]["rho"] == TINY["rho"])
        and recomputable(tiny, e["key"])
    ]
    assert chosen, f"the committed store holds no {kind} entry for {method}: run ./run_all.sh"
    return min(chosen, key=lambda e: e["key"]["n"])


@pytest.mark.parametrize(("kind", "method"), [("base", None), ("erasure", "acterase")])
def test_a_committed_entry_recomputed_from_scratch_is_what_the_store_holds(tiny, kind, method):
    """Rates may differ by one image (a platform's floating-point noise can flip a borderline judgement);
    on the machine that computed the store they are identical."""
    entry = committed(tiny, kind, method)
    stored = entry["result"]["after"] if kind == "erasure" else entry["result"]
    fresh = recompute(tiny, entry["key"])
    fresh = fresh["after"] if kind == "erasure" else fresh
    for rate in ("erased_rate", "related_rate", "retained_accuracy"):
        assert fresh[f"{rate}_n"] == stored[f"{rate}_n"]
        assert math.isclose(fresh[rate], stored[rate], abs_tol=1.01 / stored[f"{rate}_n"]), rate
    assert math.isclose(fresh["clip_score"], stored["clip_score"], abs_tol=1e-3)
