"""Removing from the result store what it can never serve again.

An entry is keyed by the digest of the code it ran, so once that code changes the entry is unreachable:
it is *stale* (its recorded module digests no longer match the sources). After a full run, an entry no
notebook asked for is *unused* (the run lists the entries it asked for in a log, `$ERASURE_STORE_LOG`).
`./run_all.sh` prunes stale entries after every run and unused ones after a full run, so the committed
store holds what the notebooks show and nothing else.

    python -m erasure.prune [--store DIR] [--unused LOG]

The store is `--store`, else `$ERASURE_STORE` (the store the run wrote to), else `data/results/store`.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from erasure.store import DEFAULT_ROOT, module_digests


def is_stale(entry: dict) -> bool:
    """True when a module the entry ran has changed (or is gone) since it was computed."""
    recorded = entry.get("modules", {})
    return module_digests(recorded) != recorded


def prune(root: Path, used: set[str] | None = None) -> list[Path]:
    """Deletes the stale entries of the store in `root`, and with `used` every entry not in it; returns
    the deleted files."""
    removed = []
    for file in sorted(root.glob("*.json")):
        if (used is not None and file.stem not in used) or is_stale(json.loads(file.read_text())):
            file.unlink()
            removed.append(file)
    return removed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m erasure.prune", description=__doc__.split("\n\n")[0])
    default = Path(os.environ.get("ERASURE_STORE") or DEFAULT_ROOT)
    parser.add_argument("--store", type=Path, default=default, help="the store's folder (default: %(default)s)")
    parser.add_argument("--unused", type=Path, metavar="LOG", help="also delete every entry LOG does not list")
    args = parser.parse_args(argv)
    used = set(args.unused.read_text().split()) if args.unused else None
    removed = prune(args.store, used)
    print(f"erasure.prune: removed {len(removed)} entries from {args.store}")


if __name__ == "__main__":
    main()
