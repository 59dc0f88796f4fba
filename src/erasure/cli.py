"""`python -m erasure …`: the artifact from the command line.

    python -m erasure check [--profile tiny|sd14]          what this machine has (exit 1 if incomplete)
    python -m erasure concepts --profile tiny [--json]     the concept registry
    python -m erasure generate --profile tiny --prompt "a red house" --n 16 --seed 0 --out grid.png
    python -m erasure evaluate --profile tiny --base --json
    python -m erasure erase --profile tiny --method acterase --concept house --out PATH [--set rho=0.02 …]
    python -m erasure evaluate --profile tiny --erased PATH --json

`--json` prints one JSON line, for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from erasure import __version__


def _cmd_check(args) -> int:
    from erasure.check import format_report, passed, run_checks

    rows = run_checks(args.profile)
    if args.json:
        print(json.dumps({"passed": passed(rows), "rows": [r.__dict__ for r in rows]}))
    else:
        print(format_report(rows))
    return 0 if passed(rows) else 1


def _registry(profile: str):
    from erasure.concepts import Registry
    from erasure.paths import CONCEPTS_DIR

    if profile != "tiny":
        raise SystemExit(f"error: the {profile} profile has no concept registry yet; use --profile tiny")
    return Registry.from_yaml(CONCEPTS_DIR / "tiny.yaml")


def _cmd_concepts(args) -> int:
    registry = _registry(args.profile)
    if args.json:
        print(json.dumps([{"name": c.name, "task": c.task, "stands_for": c.stands_for} for c in registry]))
    else:
        for c in registry:
            print(f"{c.name:<10} {c.task:<7} stands for {c.stands_for or '-':<14} erase: {', '.join(c.erase)}")
    return 0


def _cmd_generate(args) -> int:
    from erasure.pipeline import generate
    from erasure.plots import image_grid
    from erasure.profiles import load_profile

    profile = load_profile(args.profile)

    sampler = profile.sampler | {
        k: v for k, v in (("num_inference_steps", args.steps), ("guidance_scale", args.guidance)) if v is not None
    }
    images = generate(profile.pipe, [args.prompt] * args.n, seed=args.seed, **sampler)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    image_grid(images).save(tmp)
    tmp.replace(out)
    print(f"wrote {out}: {args.n} images for {args.prompt!r}, seed {args.seed}", file=sys.stderr)
    return 0


def parse_settings(items: list[str]) -> dict:
    """`--set key=value` pairs; values are read as JSON where they parse (numbers, true/false, null)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _cmd_erase(args) -> int:
    from erasure.methods import make_eraser
    from erasure.profiles import load_profile

    profile = load_profile(args.profile)
    concept = profile.concepts[args.concept]
    try:
        eraser = make_eraser(args.method, profile, **parse_settings(args.set))
    except TypeError as e:
        raise ValueError(f"{args.method}: {e}") from None
    from erasure.methods.finetune import FinetuneHyperparameters

    # Fine-tuning runs checkpoint beside the output and resume from there when rerun.
    resumable = (
        {"checkpoint_dir": Path(f"{args.out}.checkpoint")} if isinstance(eraser, FinetuneHyperparameters) else {}
    )
    erased = eraser.erase(profile.pipe, concept, **resumable)
    erased.info["profile"] = args.profile
    path = erased.save(args.out)
    summary = {"out": str(path), "method": args.method, "concept": concept.name, **erased.info}
    print(json.dumps(summary) if args.json else f"wrote {path}: {summary}")
    return 0


def _cmd_evaluate(args) -> int:
    from erasure.evaluate.fidelity import base_fidelity
    from erasure.profiles import load_profile

    if args.base == bool(args.erased):
        raise SystemExit("error: say what to evaluate: --base (the base model) or --erased PATH")
    if args.erased:
        from erasure.evaluate.erasure import evaluate_erasure
        from erasure.methods import ErasedModel

        record = ErasedModel.read_record(args.erased)
        profile = load_profile(record["info"].get("profile", args.profile))
        erased = ErasedModel.load(args.erased, base=profile.pipe)
        report = evaluate_erasure(profile, erased, n=args.n or 64, seed=args.seed, progress=not args.json)
    else:
        report = base_fidelity(
            load_profile(args.profile),
            n_images=args.n,
            n_related=args.n_related,
            seed=args.seed,
            progress=not args.json,
        )
    if args.json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m erasure",
        description="Robust concept erasure: AEGIS, ActErase "
        "and baselines on a tiny offline Stable Diffusion or SD v1.4.",
    )
    parser.add_argument("--version", action="version", version=f"erasure {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--profile", choices=("tiny", "sd14"), default="tiny")
        p.add_argument("--json", action="store_true", help="print one JSON line")
        p.set_defaults(fn=fn)
        return p

    add("check", _cmd_check, "report what this machine has for a profile (exit 1 if a required asset is missing)")
    add("concepts", _cmd_concepts, "list the concept registry")
    p = add("generate", _cmd_generate, "generate a grid of images for one prompt")
    p.add_argument("--prompt", required=True)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="DDIM steps (default: the profile's)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: the profile's)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p = add("erase", _cmd_erase, "erase a concept with a method and save the erased model")
    p.add_argument("--method", required=True, help="acterase, esd or aegis")
    p.add_argument("--concept", required=True, help="a concept of the profile's registry (see `concepts`)")
    p.add_argument("--out", required=True, help="folder to write the erased model to")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a hyperparameter (repeatable)")
    p = add("evaluate", _cmd_evaluate, "judge a model's generations")
    p.add_argument("--base", action="store_true", help="evaluate the base model's fidelity and speed")
    p.add_argument("--erased", help="evaluate a saved erased model (before vs after)")
    p.add_argument("--n", type=int, help="images per prompt set (default: 240 for --base, 64 for --erased)")
    p.add_argument("--n-related", type=int, default=32, help="images per concept on its related prompts")
    p.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (FileNotFoundError, KeyError, ValueError, NotImplementedError, RuntimeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 1
