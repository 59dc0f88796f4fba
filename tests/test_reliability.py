"""No silent wrong results, no lost data: each numbered failure a new user met on the command line,
reproduced as it was met, and its fix (a clear error with nothing written, or the right result).
The commands run in-process (`erasure.cli.main`), as `python -m erasure` runs them, except where the
process itself matters (Ctrl-C, a closed pipe, run_all.sh)."""

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from erasure.check import nudenet_problem, run_checks, tiny_model_row
from erasure.cli import main
from erasure.methods import ESD, ActErase, ErasedModel
from erasure.methods.finetune import DELTA_FILE, Finetuner
from erasure.methods.hooks import prompted_rows
from erasure.paths import REPO_ROOT, TINY_MODEL_DIR
from erasure.pipeline import generate, quiet
from erasure.plots import image_grid
from erasure.text import encode_prompts
from erasure.world import train

FAST = ["--set", "iterations=3", "--set", "ddim_steps=4"]


def cli(*argv: str) -> int:
    """`python -m erasure ARGV`'s exit status, run in this process."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


def error_line(capsys) -> str:
    """The one line a failed command printed on stderr (no traceback, nothing else but progress bars)."""
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def weights(path: Path) -> dict:
    return load_file(path / DELTA_FILE)


# ---- 1. a reused --out path never gives a model of another concept ------------------------------------------
def test_reusing_an_output_path_for_another_concept_is_refused_then_replaced_on_request(tmp_path, capsys):
    out = tmp_path / "P"
    assert cli("erase", "--method", "esd", "--concept", "house", "--out", out, *FAST) == 0
    house = weights(out)
    assert not out.with_name("P.checkpoint").exists()  # removed once the model is saved

    assert cli("erase", "--method", "esd", "--concept", "fish", "--out", out, *FAST) == 1
    assert "--overwrite" in error_line(capsys)
    assert json.loads((out / "erased.json").read_text())["concept"] == "house"

    assert cli("erase", "--method", "esd", "--concept", "fish", "--out", out, *FAST, "--overwrite") == 0
    assert json.loads((out / "erased.json").read_text())["concept"] == "fish"
    fish = weights(out)
    assert any(not torch.equal(house[n], fish[n]) for n in house)


def test_a_checkpoint_of_another_run_is_refused_and_discarded_with_overwrite(tiny, tmp_path, capsys):
    """An interrupted house run leaves P.checkpoint; a fish run at P must not resume from it."""
    out = tmp_path / "P"
    ESD.for_profile(tiny, iterations=2, ddim_steps=4, checkpoint_every=1).erase(
        tiny.pipe, tiny.concepts["house"], checkpoint_dir=tmp_path / "P.checkpoint"
    )
    assert cli("erase", "--method", "esd", "--concept", "fish", "--out", out, *FAST) == 1
    assert "another run" in error_line(capsys)
    assert not out.exists()
    assert cli("erase", "--method", "esd", "--concept", "fish", "--out", out, *FAST, "--overwrite") == 0
    assert json.loads((out / "erased.json").read_text())["concept"] == "fish"


def test_the_checkpoint_fingerprint_names_concept_and_base_model(tiny):
    hp = ESD.for_profile(tiny)
    house = Finetuner(tiny.pipe, hp, tiny.concepts["house"])._fingerprint()
    fish = Finetuner(tiny.pipe, hp, tiny.concepts["fish"])._fingerprint()
    other_base = perturbed_pipeline(tiny.pipe)
    house_other_base = Finetuner(other_base, hp, tiny.concepts["house"])._fingerprint()
    assert not torch.equal(house, fish) and not torch.equal(house, house_other_base)


def perturbed_pipeline(pipe):
    """The same pipeline with one UNet weight changed: another base model."""
    from diffusers import StableDiffusionPipeline

    unet = copy.deepcopy(pipe.unet)
    with torch.no_grad():
        unet.conv_in.weight.view(-1)[0] += 0.5
    return quiet(StableDiffusionPipeline, **{**pipe.components, "unet": unet})


def test_an_erased_model_refuses_to_load_onto_another_base_model(tiny, tmp_path):
    path = (
        ESD.for_profile(tiny, iterations=1, ddim_steps=4).erase(tiny.pipe, tiny.concepts["fish"]).save(tmp_path / "f")
    )
    with pytest.raises(ValueError, match="another base model"):
        ErasedModel.load(path, base=perturbed_pipeline(tiny.pipe))


# ---- 2. an output never deletes what it did not write --------------------------------------------------------
def test_erase_never_empties_a_users_folder(tmp_path, capsys):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    for out in (user, user / "sub" / ".."):
        assert cli("erase", "--method", "esd", "--concept", "house", "--out", out, *FAST) == 1
        assert "choose another output path" in error_line(capsys)
        assert (user / "thesis.tex").read_text() == "precious"
        assert sorted(p.name for p in user.iterdir()) == ["thesis.tex"]


def test_save_refuses_a_path_that_names_the_parent_folder(tiny, tmp_path):
    erased = ESD.for_profile(tiny, iterations=1, ddim_steps=4).erase(tiny.pipe, tiny.concepts["house"])
    (tmp_path / "keep.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    with pytest.raises(FileExistsError, match="did not write"):
        erased.save(tmp_path / "sub" / "..")
    assert (tmp_path / "keep.txt").read_text() == "x"
    saved = erased.save(tmp_path / "sub")  # an empty folder may be used
    with pytest.raises(FileExistsError, match="--overwrite"):
        erased.save(saved)
    assert erased.save(saved, overwrite=True) == saved


# ---- 3. a quick training run never writes over the shipped weights ------------------------------------------
def test_quick_training_goes_elsewhere_and_refuses_the_shipped_folder(capsys):
    manifest = (TINY_MODEL_DIR / "MANIFEST.json").read_text()
    with pytest.raises(SystemExit, match="replace the shipped weights"):
        train.main(["--quick", "--out", str(TINY_MODEL_DIR)])
    with pytest.raises(SystemExit, match="replace the shipped weights"):
        train.main(["--unet-steps", "10", "--out", str(TINY_MODEL_DIR / "sub" / "..")])  # a custom build
    assert (TINY_MODEL_DIR / "MANIFEST.json").read_text() == manifest
    assert train.output_folder(None, "quick", False) == REPO_ROOT / ".cache" / "models" / "quick"
    assert train.output_folder(None, "custom", False) == REPO_ROOT / ".cache" / "models" / "custom"
    assert train.output_folder(None, "release", False) == TINY_MODEL_DIR
    assert train.build_kind(train.TrainConfig()) == "release"
    assert train.build_kind(train.QUICK) == "quick"
    assert json.loads(manifest)["build"] == "release"
    assert tiny_model_row(TINY_MODEL_DIR).status == "PASS"


# ---- 4. check checks what it names -------------------------------------------------------------------------
def test_check_sd14_fails_a_folder_that_is_not_a_model(tmp_path, monkeypatch):
    (tmp_path / "model_index.json").write_text('{"not": "a model"}')
    monkeypatch.setenv("ERASURE_SD14_PATH", str(tmp_path))
    (row,) = [r for r in run_checks("sd14") if r.item == "Stable Diffusion v1.4"]
    assert row.status == "FAIL" and "does not describe a StableDiffusionPipeline" in row.detail
    index = {"_class_name": "StableDiffusionPipeline", **{c: ["x", "y"] for c in ("unet", "vae", "tokenizer")}}
    (tmp_path / "model_index.json").write_text(json.dumps(index))
    (row,) = [r for r in run_checks("sd14") if r.item == "Stable Diffusion v1.4"]
    assert row.status == "FAIL" and "unet/config.json is missing" in row.detail and "no text_encoder" in row.detail


def test_check_runs_nudenet_rather_than_trusting_a_file(tmp_path):
    assert nudenet_problem() is None  # the wheel's detector really loads and runs
    damaged = tmp_path / "320n.onnx"
    damaged.write_bytes(b"not an onnx model")
    assert nudenet_problem(damaged) is not None


# ---- 5. whether an image is erased never depends on its batch ------------------------------------------------
@pytest.mark.parametrize("guidance", [1.0, 5.0])
def test_actErase_patches_an_image_alike_in_a_batch_and_alone(tiny, guidance):
    erased = ActErase.for_profile(tiny, num_pairs=8, num_inference_steps=6).erase(tiny.pipe, tiny.concepts["house"])
    assert erased.hyperparameters["cfg_policy"] == "cond"
    prompts = ["a red flat house", "a blue striped house", "a green dotted fish", "a house"]
    kw = {"num_inference_steps": 6, "guidance_scale": guidance, "progress": False}
    batched = erased(prompts, seed=0, **kw).astype(int)
    alone = np.concatenate([erased([p], seed=i, **kw) for i, p in enumerate(prompts)]).astype(int)
    base = generate(tiny.pipe, prompts, seed=0, **kw).astype(int)
    assert np.abs(batched - alone).max() <= 2  # batched float noise only (the base model's is 1)
    assert np.abs(batched - base).max() > 50  # and the patch is on


def test_the_unconditional_rows_are_found_wherever_they_sit(tiny):
    pipe = tiny.pipe
    null = encode_prompts(pipe.tokenizer, pipe.text_encoder, [""])
    c = encode_prompts(pipe.tokenizer, pipe.text_encoder, ["a house", "", "a red fish", ""])
    assert prompted_rows(c, null).tolist() == [True, False, True, False]
    cond, uncond = pipe.encode_prompt(["a house", "a fish"], "cpu", 1, True)
    assert prompted_rows(torch.cat([uncond, cond]), null).tolist() == [False, False, True, True]


# ---- 7. smaller things a user meets --------------------------------------------------------------------------
def test_json_goes_to_stdout_and_progress_to_stderr(tmp_path, capsys):
    rc = cli("generate", "--prompt", "a red house", "--n", "2", "--steps", "3", "--out", tmp_path / "g.png", "--json")
    assert rc == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["n"] == 2
    assert Image.open(tmp_path / "g.png").size[0] > 0


def default_sigint() -> None:
    """In the child: Ctrl-C's default disposition, even when the test run itself was started in the background
    (a background job of a non-interactive shell ignores SIGINT, and Python then keeps ignoring it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: The environment with progress bars on: the Ctrl-C test waits for the training bar before it interrupts.
PROGRESS_SHOWN = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}


def _python_m_erasure(*argv: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "erasure", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=PROGRESS_SHOWN | {"PYTHONUNBUFFERED": "1"},
        preexec_fn=default_sigint,
        **kw,
    )


def test_ctrl_c_ends_with_one_line_and_nothing_half_written(tmp_path):
    proc = _python_m_erasure("erase", "--method", "esd", "--concept", "house", "--out", str(tmp_path / "P"))
    err = ""
    while "ESD house" not in err and (char := proc.stderr.read(1)):  # wait until training runs
        err += char
    assert "ESD house" in err, err[-2000:]  # the training bar, before the process ended
    proc.send_signal(signal.SIGINT)
    err += proc.stderr.read()
    assert proc.wait(60) == 130
    assert "Traceback" not in err and "error: interrupted" in err
    assert not (tmp_path / "P").exists()
    assert not list(tmp_path.glob(".P.tmp-*"))


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.run(
        f"{sys.executable} -m erasure concepts | true", shell=True, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_a_resumed_run_counts_all_its_time(tiny, tmp_path):
    hp = {"ddim_steps": 4, "checkpoint_every": 1}
    first = ESD.for_profile(tiny, iterations=2, **hp).erase(tiny.pipe, tiny.concepts["house"], checkpoint_dir=tmp_path)
    resumed = ESD.for_profile(tiny, iterations=4, **hp).erase(
        tiny.pipe, tiny.concepts["house"], checkpoint_dir=tmp_path
    )
    seconds = [row["seconds"] for row in resumed.log]
    assert seconds == sorted(seconds)
    assert resumed.info["erase_seconds"] > first.log[-1]["seconds"]


def test_run_all_refuses_a_missing_notebook_or_an_unknown_profile_before_any_setup(tmp_path):
    shutil.copy(REPO_ROOT / "run_all.sh", tmp_path / "run_all.sh")
    (tmp_path / "notebooks").mkdir()
    notebook = tmp_path / "notebooks" / "00_setup.ipynb"
    notebook.write_text("{}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"} | {"PYTHON": "/nonexistent"}
    for args, says in ((["--only", "99"], "choose one of: 00"), (["--profile", "sd15"], "unknown profile 'sd15'")):
        out = subprocess.run(["bash", "run_all.sh", *args], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert out.returncode == 2 and says in out.stderr
        assert not (tmp_path / ".venv").exists() and notebook.read_text() == "{}"


# ---- 8. an erased model out to diffusers, and generate --erased -----------------------------------------------
@pytest.fixture(scope="module")
def saved_esd(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("esd") / "house"
    erased = ESD.for_profile(tiny, iterations=3, ddim_steps=4).erase(tiny.pipe, tiny.concepts["house"])
    erased.info["profile"] = "tiny"
    return erased.save(folder)


def test_export_writes_a_pipeline_that_draws_the_erased_models_images(tiny, saved_esd, tmp_path):
    from diffusers import StableDiffusionPipeline

    assert cli("export", "--erased", saved_esd, "--out", tmp_path / "pipe") == 0
    exported = quiet(StableDiffusionPipeline.from_pretrained, tmp_path / "pipe")
    exported.set_progress_bar_config(disable=True)
    prompts = ["a red flat house", "a blue dotted fish"]
    kw = {"num_inference_steps": 6, "progress": False}
    erased = ErasedModel.load(saved_esd, base=tiny.pipe)
    assert np.array_equal(generate(exported, prompts, seed=4, **kw), erased(prompts, seed=4, **kw))
    assert not np.array_equal(generate(tiny.pipe, prompts, seed=4, **kw), erased(prompts, seed=4, **kw))


def test_export_of_actErase_says_plainly_that_it_cannot(tiny, tmp_path, capsys):
    erased = ActErase.for_profile(tiny, num_pairs=2, num_inference_steps=4).erase(tiny.pipe, tiny.concepts["fire"])
    path = erased.save(tmp_path / "fire")
    assert cli("export", "--erased", path, "--out", tmp_path / "pipe") == 1
    assert "cannot carry" in error_line(capsys)
    assert not (tmp_path / "pipe").exists()


def test_generate_erased_draws_from_the_erased_model(tiny, saved_esd, tmp_path):
    out = tmp_path / "grid.png"
    assert (
        cli("generate", "--erased", saved_esd, "--prompt", "a red house", "--n", "2", "--steps", "5", "--out", out) == 0
    )
    erased = ErasedModel.load(saved_esd, base=tiny.pipe)
    want = image_grid(erased(["a red house"] * 2, seed=0, num_inference_steps=5, guidance_scale=5.0, progress=False))
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(want))
