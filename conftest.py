"""Hooks for the whole test run (tests/ and the nbval notebooks alike)."""

# ---- timing summary: seconds per test file and per notebook, printed at the end of every run ----------
_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    _SECONDS[path] = _SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _SECONDS:
        return
    terminalreporter.section("seconds per file (setup + call + teardown)")
    for path, seconds in sorted(_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line(f"{seconds:8.1f}  {path}")
    terminalreporter.write_line(f"{sum(_SECONDS.values()):8.1f}  in all")
