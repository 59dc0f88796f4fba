"""`python -m erasure …`: the artifact from the command line.

    python -m erasure check [--profile tiny|sd14]          what this machine has (exit 1 if incomplete)
    python -m erasure concepts --profile tiny [--json]     the concept registry
    python -m erasure generate --profile tiny --prompt "a red house" --n 16 --seed 0 --out grid.png
    python -m erasure generate --erased PATH --prompt "a house" --out grid.png
    python -m erasure evaluate --profile tiny --base --json
    python -m erasure erase --profile tiny --method acterase --concept house --out PATH [--set rho=0.02 …]
    python -m erasure evaluate --erased PATH --json
    python -m erasure export --erased PATH --out DIR       a diffusers pipeline folder (fine-tuned methods)
    python -m erasure attack --erased PATH --attack unlearndiffatk --n 32 [--budget 4] --json
    python -m erasure attack --base --concept house --attack p4d --n 32 --json   (the attack's power check)

`--json` prints one JSON line on stdout, for scripts; progress goes to stderr. Every argument, every
hyperparameter and every output path is checked before any work starts: a bad one ends the command with
one line, `error: what is wrong; what to do`, exit status 1 (2 for a malformed command line), and
nothing written.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import sys
from pathlib import Path

from erasure import __version__

#: What a fine-tuning checkpoint folder may hold (anything else there is not ours to delete).
CHECKPOINT_FILES = {"checkpoint.safetensors", "checkpoint.safetensors.tmp", "train_log.csv", "train_log.csv.tmp"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors that say where to look."""

    def error(self, message: str):
        print(f"error: {message}; see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


# ---- argument types: bad values are refused while parsing --------------------------------------------
def whole_number(minimum: int, what: str):
    """An argparse type: a whole number of at least `minimum` (`what` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    return parse


positive_int = whole_number(1, "a number of at least 1")
seed_int = whole_number(0, "a seed >= 0")


def guidance_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a guidance scale >= 0") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"the guidance scale must be a number >= 0, got {text}")
    return value


def parse_settings(items: list[str]) -> dict:
    """`--set key=value` pairs; values are read as JSON where they parse (numbers, true/false, null),
    else kept as text, and converted to each hyperparameter's type by the method (`methods.options`)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, got {item!r}; e.g. --set lr=1e-4")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def image_path(text: str) -> Path:
    """An image file to write: a known suffix, in a folder that exists or can be made."""
    out = Path(os.path.abspath(text))
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--out {text}: give an image file name ending in {', '.join(IMAGE_SUFFIXES)}")
    if out.is_dir():
        raise ValueError(f"--out {text} is a folder; give an image file name such as {text.rstrip('/')}/grid.png")
    parent = next(p for p in out.parents if p.exists())
    if not parent.is_dir():
        raise ValueError(f"--out {text}: {parent} is a file, not a folder; choose another path")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--out {text}: {parent} is not writable; choose another path")
    return out


# ---- the erased model named by --erased ---------------------------------------------------------------
def read_erased(path: str, fallback_profile: str):
    """(record, profile spec) of a saved erased model: its files, its concept and its hyperparameters
    checked before any model loads."""
    from erasure.methods import ErasedModel, method_class
    from erasure.profiles import profile_spec

    record = ErasedModel.read_record(path)
    spec = profile_spec(record["info"].get("profile", fallback_profile))
    if record["concept"] not in {c.name for c in spec.concepts}:
        raise ValueError(
            f"{path}: erased.json names concept {record['concept']!r}, unknown to the {spec.name} profile; "
            f"re-create it with `python -m erasure erase … --out {path} --overwrite`"
        )
    try:
        method_class(record["method"])(**record["hyperparameters"])
    except TypeError as e:
        raise ValueError(
            f"{path}: erased.json's hyperparameters do not fit {record['method']} ({e}); "
            f"re-create it with `python -m erasure erase … --out {path} --overwrite`"
        ) from None
    return record, spec


def load_erased(path: str, spec):
    from erasure.methods import ErasedModel
    from erasure.profiles import load_profile

    profile = load_profile(spec.name)
    return profile, ErasedModel.load(path, base=profile.pipe)


def print_report(report: dict, as_json: bool) -> None:
    """One JSON line (`--json`), or a line per key."""
    if as_json:
        print(json.dumps(report))
    else:
        for k, v in report.items():
            print(f"{k}: {v}")


# ---- commands ----------------------------------------------------------------------------------------
def _cmd_check(args) -> int:
    from erasure.check import format_report, passed, run_checks

    rows = run_checks(args.profile)
    if args.json:
        print(json.dumps({"passed": passed(rows), "rows": [r.__dict__ for r in rows]}))
    else:
        print(format_report(rows))
    return 0 if passed(rows) else 1


def _cmd_concepts(args) -> int:
    from erasure.profiles import profile_spec

    registry = profile_spec(args.profile).concepts
    if args.json:
        print(json.dumps([{"name": c.name, "task": c.task, "stands_for": c.stands_for} for c in registry]))
    else:
        width = max(len(c.name) for c in registry)
        for c in registry:
            print(f"{c.name:<{width}} {c.task:<7} stands for {c.stands_for or '-':<14} erase: {', '.join(c.erase)}")
    return 0


def _cmd_generate(args) -> int:
    from erasure.pipeline import generate
    from erasure.plots import image_grid
    from erasure.profiles import load_profile, profile_spec

    out = image_path(args.out)
    if args.erased:
        _, spec = read_erased(args.erased, args.profile)
        profile, erased = load_erased(args.erased, spec)
        sample = erased
    else:
        profile_spec(args.profile)
        profile = load_profile(args.profile)
        sample = functools.partial(generate, profile.pipe)
    given = (("num_inference_steps", args.steps), ("guidance_scale", args.guidance))
    sampler = profile.sampler | {k: v for k, v in given if v is not None}
    images = sample([args.prompt] * args.n, seed=args.seed, **sampler)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    image_grid(images).save(tmp)
    tmp.replace(out)
    model = f"the model erased in {args.erased}" if args.erased else f"the {args.profile} base model"
    if args.json:
        print(json.dumps({"out": str(out), "prompt": args.prompt, "n": args.n, "seed": args.seed, "model": model}))
    else:
        print(f"wrote {out}: {args.n} images for {args.prompt!r} from {model}, seed {args.seed}", file=sys.stderr)
    return 0


def checkpoint_folder(out: Path, fresh: bool) -> Path:
    """Where a fine-tuning run checkpoints (beside its output); with `fresh`, a previous run's
    checkpoint there is discarded. A folder there that holds other files is refused, never deleted."""
    folder = out.with_name(out.name + ".checkpoint")
    if folder.exists():
        foreign = {p.name for p in folder.iterdir()} - CHECKPOINT_FILES
        if not folder.is_dir() or foreign:
            raise FileExistsError(
                f"{folder} exists and is not a checkpoint of this artifact; move it away or choose another --out"
            )
        if fresh:
            shutil.rmtree(folder)
    return folder


def _cmd_erase(args) -> int:
    from erasure.methods import make_eraser
    from erasure.methods.base import writable_folder
    from erasure.methods.finetune import FinetuneHyperparameters
    from erasure.profiles import load_profile, profile_spec

    spec = profile_spec(args.profile)
    concept = spec.concepts[args.concept]
    eraser = make_eraser(args.method, spec, **parse_settings(args.set))
    out = writable_folder(args.out, args.overwrite)
    # Fine-tuning runs checkpoint beside the output and resume from there when rerun (--overwrite: afresh).
    finetuning = isinstance(eraser, FinetuneHyperparameters)
    checkpoints = checkpoint_folder(out, fresh=args.overwrite) if finetuning else None
    profile = load_profile(args.profile)
    erased = eraser.erase(profile.pipe, concept, **({"checkpoint_dir": checkpoints} if finetuning else {}))
    erased.info["profile"] = args.profile
    path = erased.save(out, overwrite=args.overwrite)
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
    summary = {"out": str(path), "method": args.method, "concept": concept.name, **erased.info}
    print(json.dumps(summary) if args.json else f"wrote {path}: {summary}")
    return 0


def _cmd_evaluate(args) -> int:
    from erasure.evaluate.fidelity import base_fidelity
    from erasure.profiles import load_profile, profile_spec

    if args.base == bool(args.erased):
        raise ValueError("say what to evaluate: --base (the base model) or --erased PATH")
    if args.erased:
        from erasure.evaluate.class_rate import class_rates, class_report
        from erasure.evaluate.erasure import base_sampler, erased_sampler, evaluate_erasure

        _, spec = read_erased(args.erased, args.profile)
        profile, erased = load_erased(args.erased, spec)
        n = args.n or 64
        report = evaluate_erasure(profile, erased, n=n, seed=args.seed)
        concept = profile.concepts[erased.concept]
        before = class_rates(profile, base_sampler(profile), concept, n, args.seed)
        report |= class_report(before, class_rates(profile, erased_sampler(profile, erased), concept, n, args.seed))
    else:
        profile_spec(args.profile)
        report = base_fidelity(
            load_profile(args.profile),
            n_images=args.n or 240,
            n_related=args.n_related,
            implicit_per_context=args.implicit_per_context,
            seed=args.seed,
        )
    print_report(report, args.json)
    return 0


def _cmd_export(args) -> int:
    from erasure.methods import ErasedModel
    from erasure.methods.base import writable_folder

    record, spec = read_erased(args.erased, args.profile)
    refusal = ErasedModel.kinds[record["method"]].export_refusal
    if refusal:
        raise ValueError(refusal)
    out = writable_folder(args.out, args.overwrite)
    _, erased = load_erased(args.erased, spec)
    path = erased.export(out, overwrite=args.overwrite)
    summary = {"out": str(path), "method": record["method"], "concept": record["concept"]}
    print(json.dumps(summary) if args.json else f"wrote {path}: a diffusers pipeline folder ({summary})")
    return 0


def records_folder(text: str, overwrite: bool) -> Path:
    """Where `attack` saves its records: absent, empty, or (with --overwrite) records saved there before."""
    from erasure.attacks.base import RECORDS_JSON
    from erasure.methods.base import writable_folder

    out = Path(os.path.abspath(text))
    if (out / RECORDS_JSON).is_file():
        if not overwrite:
            raise FileExistsError(f"{out} already holds attack records; pass --overwrite, or choose another --out")
        return out
    return writable_folder(out, overwrite=False)


def _cmd_attack(args) -> int:
    import time

    from erasure.attacks import ATTACKS, Unerased, attack_class
    from erasure.evaluate.asr import asr, asr_summary
    from erasure.profiles import load_profile, profile_spec
    from erasure.robustness import attack_prompts, power_prompts

    if args.base == bool(args.erased):
        raise ValueError("say what to attack: --erased PATH, or --base --concept C (the attack's power check)")
    cls = attack_class(args.attack)
    if args.budget is not None and args.attack == "paraphrase":
        raise ValueError("paraphrase tries every word of the concept's class once; run it without --budget")
    budget_field = "draws" if args.attack == "random" else "checks"
    attack = cls(seed=args.seed, **({budget_field: args.budget} if args.budget else {}))
    if args.erased:
        record, spec = read_erased(args.erased, args.profile)
        if args.concept and args.concept != record["concept"]:
            raise ValueError(
                f"{args.erased} erased {record['concept']!r}, not {args.concept!r}; run it without --concept"
            )
        concept_name = record["concept"]
    else:
        if not args.concept:
            raise ValueError("give --concept with --base: the concept the attack should bring into the images")
        spec = profile_spec(args.profile)
        concept_name = spec.concepts[args.concept].name
    prompt_set = args.prompts or ("attack" if args.erased else "power")
    out = records_folder(
        args.out or f"attacks/{args.attack}_{'erased' if args.erased else 'base'}_{concept_name}", args.overwrite
    )
    if args.erased:
        profile, model = load_erased(args.erased, spec)
    else:
        profile = load_profile(args.profile)
        model = Unerased(profile.pipe)
    concept = profile.concepts[concept_name]
    if prompt_set == "power":
        prompts, targets = power_prompts(concept, args.n, args.seed)
    else:
        prompts = targets = attack_prompts(concept, args.n, args.seed)
    started = time.perf_counter()
    print(f"attacking {args.n} prompts with {attack.name} ({ATTACKS[args.attack].__name__})", file=sys.stderr)
    records = attack.run(profile, model, concept, prompts, args.seed, targets)
    seconds = time.perf_counter() - started
    records.save(out)
    control = attack.control()
    control_asr = None
    if control is not None and control != attack:
        control_records = control.run(profile, model, concept, prompts, args.seed, targets)
        control_records.save(out / "control")
        control_asr = asr(control_records)
    summary = asr_summary(records)
    report = {
        "attack": attack.name,
        "asr": summary["asr"],
        "pre_asr": summary["pre_asr"],
        "asr_low": summary["asr_low"],
        "asr_high": summary["asr_high"],
        "control_asr": control_asr,
        "n_prompts": summary["n_prompts"],
        "seconds": seconds,
        "prompt_set": prompt_set,
        "concept": concept.name,
        "model": getattr(model, "method", "base"),
        "records": str(out),
    }
    print_report(report, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m erasure",
        description="Robust concept erasure: AEGIS, ActErase "
        "and baselines on a tiny offline Stable Diffusion or SD v1.4.",
    )
    parser.add_argument("--version", action="version", version=f"erasure {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--profile", choices=("tiny", "sd14"), default="tiny")
        p.add_argument("--json", action="store_true", help="print one JSON line on stdout (progress on stderr)")
        p.set_defaults(fn=fn)
        return p

    add("check", _cmd_check, "report what this machine has for a profile (exit 1 if a required asset is missing)")
    add("concepts", _cmd_concepts, "list the concept registry")
    p = add("generate", _cmd_generate, "generate a grid of images for one prompt (base model, or --erased)")
    p.add_argument("--prompt", required=True)
    p.add_argument("--erased", help="draw from this saved erased model instead of the base model")
    p.add_argument("--n", type=positive_int, default=16, help="number of images (default 16)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--steps", type=positive_int, help="DDIM steps (default: the profile's)")
    p.add_argument("--guidance", type=guidance_float, help="guidance scale (default: the profile's)")
    p.add_argument("--out", required=True, help="image file to write (.png or .jpg)")
    p = add("erase", _cmd_erase, "erase a concept with a method and save the erased model")
    p.add_argument(
        "--method",
        required=True,
        help="acterase, aegis, esd, esd_u, esd_x, uce, rece, advunlearn, salun, sld or conceptprune",
    )
    p.add_argument("--concept", required=True, help="a concept of the profile's registry (see `concepts`)")
    p.add_argument("--out", required=True, help="folder to write the erased model to (must not exist, or be empty)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an erased model already saved at --out (and start a fine-tuning run afresh)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a hyperparameter (repeatable)")
    p = add("evaluate", _cmd_evaluate, "judge a model's generations")
    p.add_argument("--base", action="store_true", help="evaluate the base model's fidelity and speed")
    p.add_argument("--erased", help="evaluate a saved erased model (before vs after)")
    p.add_argument("--n", type=positive_int, help="images per prompt set (default: 240 for --base, 64 for --erased)")
    p.add_argument("--n-related", type=positive_int, default=32, help="images per concept on its related prompts")
    p.add_argument(
        "--implicit-per-context",
        type=positive_int,
        help="prompts per context of the implicit prompt set, one image each (default: all 12)",
    )
    p.add_argument("--seed", type=seed_int, default=0)
    p = add("export", _cmd_export, "write a saved erased model as a diffusers pipeline folder")
    p.add_argument("--erased", required=True, help="a saved erased model (from `erase`)")
    p.add_argument("--out", required=True, help="folder to write the pipeline to (must not exist, or be empty)")
    p.add_argument("--overwrite", action="store_true", help="replace a pipeline already exported to --out")
    p = add("attack", _cmd_attack, "attack a model with one attack of the suite, beside its random control")
    p.add_argument(
        "--attack", required=True, help="unlearndiffatk, p4d, ringabell, inversion, paraphrase, random, soft_prefix"
    )
    p.add_argument("--erased", help="attack this saved erased model (its concept's evaluation prompts)")
    p.add_argument("--base", action="store_true", help="attack the base model (the attack's power check)")
    p.add_argument("--concept", help="the concept to bring back (with --base)")
    p.add_argument(
        "--prompts", choices=("attack", "power"), help="the prompt set (default: attack for --erased, power for --base)"
    )
    p.add_argument("--n", type=positive_int, default=16, help="prompts to attack (default 16)")
    p.add_argument("--budget", type=positive_int, help="judged checkpoints per prompt (default: the attack's)")
    p.add_argument("--seed", type=seed_int, default=0)
    p.add_argument("--out", help="folder for the records (default: attacks/ATTACK_MODEL_CONCEPT)")
    p.add_argument("--overwrite", action="store_true", help="replace records saved at --out before")
    return parser


#: Errors that are the user's to fix: printed as one line, without a traceback.
USER_ERRORS = (OSError, KeyError, ValueError, NotImplementedError, RuntimeError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was kept (rerun to resume a fine-tuning run)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, without Python's message at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except USER_ERRORS as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {' '.join(str(msg).split())}", file=sys.stderr)
        return 1
