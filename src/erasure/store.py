"""The result store: experiment results (small JSON) and erased models, each keyed by everything that
determines it, the code that computes it included, so that a stale result is never served.

A key holds the result's parameters, the fingerprint of the profile's assets (base model, judges, CLIP)
and `code`: a digest of the source of every module the computation runs, found by following the
module-level `erasure.*` imports from its entry modules (the method's file, the evaluation's, the judge's,
the attack's); this module and the base model's fingerprint compute no result and are left out. Sources
are compared as syntax trees without docstrings, so comments, docstrings and formatting do not count. A
change to ActErase's file therefore recomputes ActErase's results only; a change to a shared piece (the
fine-tuning loop, `measure()`, the sampler, a judge) recomputes every result that runs it. Each source
file's imports and digest are read once per version of the file.

Results live in `data/results/store/` (or `$ERASURE_STORE`), committed with the notebooks that show them,
so that nbval can check every table against what the code gives: with `$ERASURE_REPLAY=1` (the test
suite's notebooks, `./run_all.sh test`) the default store serves its entries and never computes; a missing
entry raises `StaleResult`, which names the modules that changed since it was computed. Erased models are
large and live apart, in `.cache/erased-models/` (or `$ERASURE_MODEL_STORE`). A store given an explicit
folder (the tests' own) computes what it lacks. Entries are written atomically (a temporary file renamed
into place).
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
DEFAULT_ROOT = REPO_ROOT / "data" / "results" / "store"
DEFAULT_MODEL_ROOT = REPO_ROOT / ".cache" / "erased-models"
#: Key fields that hold code or asset fingerprints: two keys equal but for these ask the same question of
#: different code (or weights).
FINGERPRINT_FIELDS = ("code", "method_code", "assets")
PACKAGE_DIR = Path(__file__).resolve().parent
#: Modules that compute no result: the store's own bookkeeping, and the base model's fingerprint (which
#: enters a key as `assets`). They are followed for their imports but not digested, so that a change to how
#: results are stored or looked up serves the same results.
NOT_COMPUTATION = frozenset({"erasure.store", "erasure.fingerprint"})


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
    file = module_file(name, package_dir)
    return set(_imports(file, file.stat().st_mtime_ns, package_dir))


@functools.cache
def _imports(file: Path, mtime_ns: int, package_dir: Path) -> frozenset[str]:
    """`module_imports` of one source file, parsed once per version of the file."""
    found = set()
    for node in ast.parse(file.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("erasure.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "erasure":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if module_file(sub, package_dir) else node.module)
    return frozenset(m for m in found if module_file(m, package_dir))


def module_closure(entries: Iterable[str], package_dir: Path = PACKAGE_DIR) -> list[str]:
    """`entries` and every `erasure.*` module they import, transitively (sorted)."""
    seen, todo = set(), [e for e in entries if e.startswith("erasure")]
    while todo:
        name = todo.pop()
        if name not in seen and module_file(name, package_dir):
            seen.add(name)
            todo.extend(module_imports(name, package_dir) - seen)
    return sorted(seen)


def without_docstrings(tree: ast.Module) -> ast.Module:
    """`tree` with the docstring of the module and of every class and function removed."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.cache
def _source_digest(file: Path, mtime_ns: int) -> str:
    """sha256 of a source file's syntax tree: comments, docstrings and formatting do not count."""
    return hashlib.sha256(ast.dump(without_docstrings(ast.parse(file.read_text()))).encode()).hexdigest()


def module_digests(entries: Iterable[str], package_dir: Path = PACKAGE_DIR) -> dict[str, str]:
    """The source digest of every module a computation starting in `entries` runs, by module name
    (`NOT_COMPUTATION` left out)."""
    digests = {}
    for name in module_closure(entries, package_dir):
        if name in NOT_COMPUTATION:
            continue
        file = module_file(name, package_dir)
        digests[name] = _source_digest(file, file.stat().st_mtime_ns)
    return digests


def code_fingerprint(entries: Iterable[str], package_dir: Path = PACKAGE_DIR) -> str:
    """A digest of the source of every module a computation starting in `entries` runs."""
    lines = "".join(f"{name}:{d}\n" for name, d in module_digests(entries, package_dir).items())
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def log_use(name: str) -> None:
    """Appends an entry's digest to `$ERASURE_STORE_LOG` when set: a full `./run_all.sh` run lists the
    entries its notebooks asked for, and removes the others from the committed store."""
    if log := os.environ.get("ERASURE_STORE_LOG"):
        with open(log, "a") as f:
            f.write(f"{name}\n")


class StaleResult(LookupError):
    """A replayed store lacks a result: the code that computes it changed, or it was never computed."""


def describe(key: dict) -> str:
    """A key in a few words: its kind, method, concept and sizes."""
    shown = ("kind", "method", "concept", "n", "seed")
    return ", ".join(f"{k}={key[k]}" for k in shown if key.get(k) is not None)


class ResultStore:
    """A folder of results (`<digest>.json`) and a folder of erased models (`<digest>/`), by key.

    `replay=True` serves stored results and raises `StaleResult` for a missing one instead of computing
    it; by default the store of `$ERASURE_STORE` / `data/results/store` replays when `$ERASURE_REPLAY=1`,
    and a store given its own folder computes.
    """

    def __init__(self, root: str | Path | None = None, models: str | Path | None = None, replay: bool | None = None):
        self.root = Path(root or os.environ.get("ERASURE_STORE") or DEFAULT_ROOT)
        if models is None:
            models = self.root / "models" if root else os.environ.get("ERASURE_MODEL_STORE") or DEFAULT_MODEL_ROOT
        self.models = Path(models)
        self.replay = (root is None and os.environ.get("ERASURE_REPLAY") == "1") if replay is None else replay
        #: Digests of the entries this store object computed (rather than read), in order.
        self.computed: list[str] = []

    def result(self, key: dict, compute: Callable[[], dict], modules: Iterable[str] = ()) -> dict:
        """`compute()`'s result for `key`, read from the store when it was computed before. `modules`: the
        entry modules of the code in `key` (recorded with the result, to say what changed when it is stale)."""
        key = {"schema": SCHEMA, **key}
        file = self.root / f"{digest(key)}.json"
        log_use(file.stem)
        if file.is_file():
            return json.loads(file.read_text())["result"]
        if self.replay:
            raise StaleResult(self.why_missing(key))
        result = compute()
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
        entry = {"key": key, "modules": module_digests(modules), "result": result}
        tmp.write_text(json.dumps(entry, indent=1, default=str) + "\n")
        tmp.replace(file)
        self.computed.append(file.stem)
        return result

    def why_missing(self, key: dict) -> str:
        """The message of `StaleResult`: which result, and the modules changed since it was computed."""
        question = {k: v for k, v in key.items() if k not in FINGERPRINT_FIELDS}
        for file in sorted(self.root.glob("*.json")):
            entry = json.loads(file.read_text())
            if {k: v for k, v in entry["key"].items() if k not in FINGERPRINT_FIELDS} != question:
                continue
            current = module_digests(entry.get("modules", {}))
            changed = sorted(m for m, d in entry.get("modules", {}).items() if current.get(m) != d)
            changed += sorted(set(current) - set(entry.get("modules", {})))
            what = ", ".join(changed) if changed else "the profile's assets (model, judges or CLIP)"
            return f"the stored result ({describe(key)}) was computed before a change to {what}"
        return f"no result ({describe(key)}) was ever stored in {self.root} for these parameters"

    def model_folder(self, key: dict) -> Path:
        """Where the erased model of `key` is (or will be) saved."""
        return self.models / digest({"schema": SCHEMA, **key})
