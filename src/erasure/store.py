"""The result store: experiment results (small JSON) and erased models, each keyed by everything that
determines it, the code that computes it included, so that a stale result is never served.

A key holds the result's parameters, the fingerprint of the profile's assets (base model, judges, CLIP)
and `code`: a digest of the source of every module the computation runs, found by following the
module-level `erasure.*` imports from its entry modules (the method's file, the evaluation's, the judge's,
the attack's). Sources are compared as syntax trees, so comments and formatting do not count. A change
to ActErase's file therefore recomputes ActErase's results only; a change to a shared piece (the
fine-tuning loop, `measure()`, the sampler, a judge) recomputes every result that runs it.

The store lives in a folder (default `.cache/experiments/`, or `$ERASURE_STORE`); tests give their own.
Entries are written atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from erasure.paths import REPO_ROOT

#: Bumped when the layout of a key or an entry changes: every older entry is then recomputed.
SCHEMA = 2
DEFAULT_ROOT = REPO_ROOT / ".cache" / "experiments"
PACKAGE_DIR = Path(__file__).resolve().parent


def digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]


def module_file(name: str, package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The source file of module `erasure.a.b` under `package_dir` (a package's `__init__.py`), or None."""
    parts = name.split(".")[1:]
    base = package_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_imports(name: str, package_dir: Path = PACKAGE_DIR) -> set[str]:
    """The `erasure.*` modules that module `name` imports at module level (`from erasure.x import y`
    counts `erasure.x.y` when that is a module of its own, else `erasure.x`)."""
    tree = ast.parse(module_file(name, package_dir).read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("erasure.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "erasure":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if module_file(sub, package_dir) else node.module)
    return {m for m in found if module_file(m, package_dir)}


def module_closure(entries: Iterable[str], package_dir: Path = PACKAGE_DIR) -> list[str]:
    """`entries` and every `erasure.*` module they import, transitively (sorted)."""
    seen, todo = set(), [e for e in entries if e.startswith("erasure")]
    while todo:
        name = todo.pop()
        if name not in seen and module_file(name, package_dir):
            seen.add(name)
            todo.extend(module_imports(name, package_dir) - seen)
    return sorted(seen)


@functools.cache
def _source_digest(file: Path, mtime_ns: int) -> str:
    """sha256 of a source file's syntax tree (comments and formatting do not count)."""
    return hashlib.sha256(ast.dump(ast.parse(file.read_text())).encode()).hexdigest()


def code_fingerprint(entries: Iterable[str], package_dir: Path = PACKAGE_DIR) -> str:
    """A digest of the source of every module a computation starting in `entries` runs."""
    h = hashlib.sha256()
    for name in module_closure(entries, package_dir):
        file = module_file(name, package_dir)
        h.update(f"{name}:{_source_digest(file, file.stat().st_mtime_ns)}\n".encode())
    return h.hexdigest()[:16]


class ResultStore:
    """A folder of results (`<digest>.json`) and erased models (`models/<digest>/`), by key."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or os.environ.get("ERASURE_STORE") or DEFAULT_ROOT)
        #: Digests of the entries this store object computed (rather than read), in order.
        self.computed: list[str] = []

    def result(self, key: dict, compute: Callable[[], dict]) -> dict:
        """`compute()`'s result for `key`, read from the store when it was computed before."""
        key = {"schema": SCHEMA, **key}
        file = self.root / f"{digest(key)}.json"
        if file.is_file():
            return json.loads(file.read_text())["result"]
        result = compute()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"key": key, "result": result}, default=str))
        tmp.replace(file)
        self.computed.append(file.stem)
        return result

    def model_folder(self, key: dict) -> Path:
        """Where the erased model of `key` is (or will be) saved."""
        return self.root / "models" / digest({"schema": SCHEMA, **key})
