"""Hooks for the whole test run (tests/ and the nbval notebooks alike)."""

# ---- timing summary: seconds per test file and per notebook, printed at the end of every run ----------
_SECONDS: dict[str, float] = {}
# ---- stale notebooks: a cell whose stored result is missing (erasure.store.StaleResult) -----------------
_STALE: set[str] = set()


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _SECONDS[path] = _SECONDS.get(path, 0.0) + report.duration
    if report.failed and path.endswith(".ipynb") and "StaleResult" in str(report.longrepr):
        _STALE.add(path)


def pytest_terminal_summary(terminalreporter):
    for path in sorted(_STALE):
        number = path.split("/")[-1][:2]
        terminalreporter.section("stale notebook", red=True)
        terminalreporter.write_line(
            f"{path} shows results computed by code that has since changed (the failing cells above name the "
            f"modules). Re-run it: ./run_all.sh --only {number}; then commit the notebook and data/results/store/."
        )
    if not _SECONDS:
        return
    terminalreporter.section("seconds per file (setup + call + teardown)")
    for path, seconds in sorted(_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(_SECONDS.values()):8.1f}  in all")

# ---- scheduling: the longest files first, so that the two xdist workers (--dist loadfile) end together ------
#: Test files that take minutes (see the timing summary), started before all others, longest first.
LONGEST_FIRST = (
    "tests/test_sd14_notebooks.py",
    "tests/test_readme.py",
    "tests/test_finetune.py",
    "tests/test_stale_notebook.py",
)


def _start_rank(item) -> int:
    path = item.nodeid.split("::")[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items):
    items.sort(key=_start_rank)  # a stable sort: each file and each notebook keeps its own order
