"""Every command line the README prints runs, in order, as a user pastes it (in a fresh folder, so its
relative paths land there), with smaller sizes appended where the full command takes minutes."""

import re
import shlex
import subprocess
import sys

from erasure.paths import REPO_ROOT

#: Arguments appended to a README command (matched by its start) to run it at smoke size.
SMOKE = {
    "-m erasure evaluate --base": ["--n", "8", "--n-related", "2"],
    "-m erasure evaluate --erased": ["--n", "4"],
    "-m erasure generate": ["--n", "4"],
    "-m erasure erase --method esd": ["--set", "iterations=3"],
    "-m erasure.world.train --quick": ["--out", "quick"],
}
#: README commands not run here, and why.
NOT_RUN = {"-m erasure.world.train": "the release training takes 76 minutes; its --quick build runs"}
#: Commands that must fail on this machine, and why.
EXPECTED_FAILURE = {"-m erasure check --profile sd14": "no SD v1.4 weights here"}


def readme_commands() -> list[list[str]]:
    """The command lines of the README's "Command line" block, optional `[...]` parts dropped."""
    text = (REPO_ROOT / "README.md").read_text()
    block = text.split("## Command line", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.strip().splitlines():
        line = line.split("  #", 1)[0]
        optional = re.findall(r"\[([^\]]*)\]", line)
        plain = shlex.split(re.sub(r"\s*\[[^\]]*\]", "", line))
        commands.append(plain)
        if optional and optional[0].startswith("--profile"):  # the other profile is a command of its own
            commands.append(plain + shlex.split(optional[0]))
    return commands


def smoke(argv: list[str]) -> list[str] | None:
    """The command with its smoke arguments, or None when it is not run."""
    line = " ".join(argv[1:])
    if any(line == skip for skip in NOT_RUN):
        return None
    extra = next((v for k, v in SMOKE.items() if line.startswith(k)), [])
    return [sys.executable, *argv[1:], *extra]


def test_the_readme_lists_the_commands_it_documents():
    lines = [" ".join(c[1:]) for c in readme_commands()]
    for verb in ("check", "concepts", "generate", "evaluate", "erase", "export"):
        assert any(line.startswith(f"-m erasure {verb}") for line in lines), verb
    assert all(c[0] == ".venv/bin/python" for c in readme_commands())


def test_every_readme_command_runs(tmp_path):
    for argv in readme_commands():
        command = smoke(argv)
        if command is None:
            continue
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        line = " ".join(argv[1:])
        if line in EXPECTED_FAILURE:
            assert done.returncode == 1 and "Traceback" not in done.stderr, (line, done.stderr[-2000:])
        else:
            assert done.returncode == 0, (line, done.stderr[-2000:])
    assert (tmp_path / "pipelines" / "house-esd" / "model_index.json").is_file()
    assert (tmp_path / "quick" / "MANIFEST.json").is_file()
