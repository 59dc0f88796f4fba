"""The result store: a second request for the same erasure reuses the saved model and result; a change
to the code a result ran recomputes that result and nothing else; results pooled over evaluation seeds."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from erasure.experiments import erased_model, run_erasure, run_erasure_pooled
from erasure.methods import ESD, ActErase
from erasure.methods.base import ERASED_JSON
from erasure.paths import REPO_ROOT
from erasure.store import PACKAGE_DIR, ResultStore, code_fingerprint, module_closure


def test_erased_models_and_results_are_stored_and_identical(tiny, tmp_path):
    store = ResultStore(tmp_path)
    eraser, concept = ESD(iterations=2, lr=1e-4, ddim_steps=6), tiny.concepts["house"]
    first = erased_model(tiny, eraser, concept, store)
    saved = list((tmp_path / "models").glob(f"*/{ERASED_JSON}"))
    assert len(saved) == 1
    again = erased_model(tiny, eraser, concept, store)
    assert again is not first and again.info == first.info
    prompts = concept.evaluation_prompts(2, 0)
    assert np.array_equal(first(prompts, seed=0, progress=False), again(prompts, seed=0, progress=False))
    # another hyperparameter is another model
    erased_model(tiny, ESD(iterations=2, lr=2e-4, ddim_steps=6), concept, store)
    assert len(list((tmp_path / "models").glob(f"*/{ERASED_JSON}"))) == 2


def test_pooled_results_are_the_mean_over_evaluation_seeds(tiny, tmp_path):
    store = ResultStore(tmp_path)
    eraser = ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4)
    concept = tiny.concepts["fire"]
    rows = [run_erasure(tiny, eraser, concept, 2, s, store=store) for s in (0, 1)]
    computed = len(store.computed)
    pooled = run_erasure_pooled(tiny, eraser, concept, 2, [0, 1], store=store)
    assert len(store.computed) == computed  # every row came from the store
    assert pooled["erased_rate_after"] == pytest.approx(np.mean([r["erased_rate_after"] for r in rows]))
    assert pooled["retained_drop_points"] == pytest.approx(np.mean([r["retained_drop_points"] for r in rows]))
    assert pooled["retained_drop_points_max"] == max(r["retained_drop_points"] for r in rows)
    assert pooled["n_images"] == sum(r["n_images"] for r in rows) and pooled["seeds"] == "0 1"
    # true image counts: the rate's own prompts, summed over seeds, and the interval around the pooled share
    assert rows[0]["erased_rate_n"] == len(concept.evaluation_prompts(2, 0)) == 2
    assert pooled["erased_rate_n"] == 4
    low, high = pooled["erased_rate_after_low"], pooled["erased_rate_after_high"]
    assert low <= pooled["erased_rate_after"] <= high


def edited_copy(tmp_path, module: str, code: str = "EDITED = 1"):
    """A copy of the package with one module's source changed (a statement appended)."""
    copy = tmp_path / "erasure"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    file = copy.joinpath(*module.split(".")[1:]).with_suffix(".py")
    file.write_text(file.read_text() + f"\n{code}\n")
    return copy


METHODS = ("erasure.methods.acterase", "erasure.methods.esd", "erasure.methods.aegis")


@pytest.mark.parametrize(
    ("edited", "changes"),
    [
        ("erasure.methods.acterase", {"erasure.methods.acterase"}),
        ("erasure.methods.esd", {"erasure.methods.esd"}),
        ("erasure.methods.finetune", {"erasure.methods.esd", "erasure.methods.aegis"}),
        ("erasure.pipeline", set(METHODS)),
        ("erasure.store", set()),  # how results are stored computes none of them
        ("erasure.fingerprint", set()),
    ],
)
def test_a_code_change_changes_the_fingerprint_of_what_runs_it_only(tmp_path, edited, changes):
    copy = edited_copy(tmp_path, edited)
    for method in METHODS:
        moved = code_fingerprint([method], copy) != code_fingerprint([method])
        assert moved == (method in changes), method


def test_comments_docstrings_and_formatting_do_not_count(tmp_path):
    copy = edited_copy(tmp_path, "erasure.methods.acterase", "# a comment")
    file = copy / "methods" / "acterase.py"
    source = file.read_text()
    file.write_text(source.replace('"""', '"""Reworded. ', 1).replace("    ", "    ", 1))
    assert code_fingerprint(["erasure.methods.acterase"], copy) == code_fingerprint(["erasure.methods.acterase"])


def test_the_evaluation_runs_the_sampler_the_judges_and_clip():
    closure = module_closure(["erasure.evaluate.erasure", "erasure.evaluate.judges"])
    for shared in ("erasure.pipeline", "erasure.evaluate.clip_score", "erasure.concepts", "erasure.evaluate.judges"):
        assert shared in closure
    assert not any(m.startswith("erasure.methods") for m in closure)


EXPERIMENT = textwrap.dedent(
    """
    import json, sys
    from erasure.experiments import run_erasure
    from erasure.methods import ESD, ActErase
    from erasure.profiles import load_profile
    from erasure.store import ResultStore

    tiny, store = load_profile("tiny"), ResultStore(sys.argv[1])
    fire = tiny.concepts["fire"]
    run_erasure(tiny, ESD.for_profile(tiny, iterations=2, ddim_steps=4), fire, n=2, store=store)
    esd = len(store.computed)
    run_erasure(tiny, ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4), fire, n=2, store=store)
    print(json.dumps({"esd": esd, "acterase": len(store.computed) - esd}))
    """
)


def test_editing_a_method_in_a_copy_of_the_repository_recomputes_its_results_only(tmp_path):
    """The package copied beside the shipped data; ActErase's source edited between two runs of the same
    experiment: the second run recomputes ActErase's result and model and serves ESD's from the store."""
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    shutil.copytree(PACKAGE_DIR, repo / "src" / "erasure", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "data").symlink_to(REPO_ROOT / "data")
    script = tmp_path / "experiment.py"
    script.write_text(EXPERIMENT)

    def run() -> dict:
        env = {"PYTHONPATH": str(repo / "src"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        out = subprocess.run(
            [sys.executable, str(script), str(tmp_path / "store")],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **env},
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert run() == {"esd": 2, "acterase": 1}  # ESD: its base metrics and its row; ActErase: its row
    assert run() == {"esd": 0, "acterase": 0}
    file = repo / "src" / "erasure" / "methods" / "acterase.py"
    file.write_text(file.read_text() + "\nEDITED = 1\n")
    assert run() == {"esd": 0, "acterase": 1}
