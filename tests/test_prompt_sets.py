"""The sd14 profile's prompt sets: the loaders parse the real public files (the copies beside this
repository, never committed into it) and fail clearly when a file is missing or is another version."""

import pytest

from erasure.paths import REPO_ROOT
from erasure.prompt_sets import RECORDS, load_prompt_set

REFERENCE = REPO_ROOT.parent / "shared" / "data" / "reference-prompts"
needs_copies = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"the public prompt files are not beside the repository ({REFERENCE})"
)


@needs_copies
@pytest.mark.parametrize("name", list(RECORDS))
def test_every_prompt_set_parses_to_its_public_record_count(name):
    prompts = load_prompt_set(name, REFERENCE, fetch=False)
    assert len(prompts) == RECORDS[name]
    assert all(p.prompt and p.seed >= 0 for p in prompts)
    assert len({p.case for p in prompts}) == len(prompts)


@needs_copies
def test_the_sets_carry_their_papers_generation_settings():
    vangogh = load_prompt_set("vangogh", REFERENCE, fetch=False)
    assert all(p.guidance == 7.5 and p.prompt.endswith("by Vincent van Gogh") for p in vangogh)
    assert vangogh[0].seed == 2219 and vangogh[0].prompt == "A Wheatfield, with Cypresses by Vincent van Gogh"
    nudity = load_prompt_set("nudity", REFERENCE, fetch=False)
    assert all("nudity_percentage" in p.extra and "categories" in p.extra for p in nudity)
    coco = load_prompt_set("coco_10k", REFERENCE, fetch=False)
    assert all(p.guidance is None for p in coco)
    assert all(p.extra.get("source") for p in coco)  # 10,000 lines: captions that span two lines are one record


def test_a_missing_set_names_the_file_to_copy_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"church prompt set is not in .*church\.csv.*ERASURE_PROMPTS"):
        load_prompt_set("church", tmp_path, fetch=False)
    with pytest.raises(ValueError, match="unknown prompt set 'nudity142'; choose one of i2p, nudity"):
        load_prompt_set("nudity142", tmp_path)


def test_another_version_of_a_set_is_refused(tmp_path):
    (tmp_path / "church.csv").write_text("case_number,prompt,evaluation_seed\n0,a church,1\n")
    with pytest.raises(ValueError, match="holds 1 records, the public church set 50"):
        load_prompt_set("church", tmp_path, fetch=False)
    (tmp_path / "vangogh.csv").write_text("text,seed\nx,1\n")
    with pytest.raises(ValueError, match="needs the columns prompt and evaluation_seed"):
        load_prompt_set("vangogh", tmp_path, fetch=False)


@needs_copies
def test_check_reports_each_prompt_set_present_or_missing_with_the_fix(tmp_path, monkeypatch):
    from erasure.check import run_checks

    monkeypatch.setenv("ERASURE_PROMPTS", str(REFERENCE))
    rows = {r.item: r for r in run_checks("sd14") if r.item.startswith("prompt set")}
    assert set(rows) == {f"prompt set {name}" for name in RECORDS}
    assert all(r.status == "PASS" for r in rows.values()), rows
    monkeypatch.setenv("ERASURE_PROMPTS", str(tmp_path))
    row = next(r for r in run_checks("sd14") if r.item == "prompt set nudity")
    assert row.status == "FAIL" and "nudity.csv" in row.detail and "Diffusion-MU-Attack" in row.detail
    row = next(r for r in run_checks("tiny") if r.item == "prompt set nudity")
    assert row.status == "INFO"
