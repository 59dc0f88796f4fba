"""Times the sd14 profile's costs on Stable Diffusion v1.4's full architecture with random weights (no weights
needed): an ESD and an AEGIS iteration, ActErase's statistics and its sampling overhead, UnlearnDiffAtk's prompts
per second batched and one at a time, and the peak GPU memory of each.

    python scripts/bench_sd14.py [--device cuda] [--out sd14_timings.json]
    python scripts/bench_sd14.py --device cpu --width-divisor 8 --latent-size 8 --small   # a check that it runs

Random weights cost what real ones do: the time of a step does not depend on the values. Each measurement runs
after a warm-up of the same kind; a measurement that fails is reported with its error and the others still run.
Everything runs in float32, as the authors' code trains.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from erasure.attacks import Unerased, UnlearnDiffAtk
from erasure.methods import AEGIS, ESD, ActErase
from erasure.pipeline import generate
from erasure.profiles import SD14_SAMPLER, sd14_profile
from erasure.sd14 import random_sd14_pipeline


def peak_memory_gb(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def measured(device: str, fn: Callable[[], dict]) -> dict:
    """`fn`'s figures with its wall time and peak GPU memory, or the error that stopped it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        figures = fn()
    except Exception as e:  # a first run on a new card: report the failure, go on with the rest
        return {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=3)}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return {**figures, "seconds": time.perf_counter() - started, "peak_gpu_gb": peak_memory_gb(device)}


def per_iteration(method, pipe, concept, iterations: int) -> dict:
    """Seconds per iteration of a fine-tuning method, after a one-iteration warm-up."""
    replace(method, iterations=1).erase(pipe, concept)
    erased = method.erase(pipe, concept)
    return {"iterations": iterations, "seconds_per_iteration": erased.info["erase_seconds"] / iterations}


def acterase_overhead(pipe, concept, prompts: list[str], sampler: dict, num_pairs: int) -> dict:
    """ActErase's statistics time, and sampling time with the patch against without it."""
    started = time.perf_counter()
    erased = ActErase(num_pairs=num_pairs, num_inference_steps=sampler["num_inference_steps"]).erase(pipe, concept)
    statistics = time.perf_counter() - started
    generate(pipe, prompts[:1], progress=False, **sampler)  # warm-up
    started = time.perf_counter()
    generate(pipe, prompts, progress=False, **sampler)
    base = time.perf_counter() - started
    started = time.perf_counter()
    erased(prompts, seed=0, progress=False, **sampler)
    patched = time.perf_counter() - started
    return {
        "statistics_seconds": statistics,
        "sampling_base_s": base,
        "sampling_patched_s": patched,
        "overhead": patched / base - 1,
        "images": len(prompts),
    }


def attack_rates(profile, concept, prompts: list[str], attack) -> dict:
    """UnlearnDiffAtk's prompts per second: all prompts in one batch, then one at a time."""
    model = Unerased(profile.pipe)
    attack.run(profile, model, concept, prompts[:1], 0)  # warm-up (vocabulary, caches)
    started = time.perf_counter()
    attack.run(profile, model, concept, prompts, 0)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for i, prompt in enumerate(prompts):
        attack.run(profile, model, concept, [prompt], i)
    alone = time.perf_counter() - started
    return {
        "prompts": len(prompts),
        "batched_prompts_per_s": len(prompts) / batched,
        "alone_prompts_per_s": len(prompts) / alone,
        "speed_up": alone / batched,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--width-divisor", type=int, default=1, help="1: SD v1.4's widths")
    parser.add_argument("--latent-size", type=int, default=64, help="64: 512x512 images")
    parser.add_argument("--small", action="store_true", help="tiny budgets: a check that every measurement runs")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    small = args.small
    iterations = 2 if small else 10
    sampler = {**SD14_SAMPLER, "num_inference_steps": 2 if small else SD14_SAMPLER["num_inference_steps"]}
    pipe = random_sd14_pipeline(args.width_divisor, args.latent_size, args.device)
    profile = sd14_profile(pipe)
    profile.sampler = sampler
    church, nudity = profile.concepts["church"], profile.concepts["nudity"]
    prompts = [f"a photo of a church, {s}" for s in ("at dawn", "in winter", "at night", "in the rain")]
    hp = {"iterations": iterations, "ddim_steps": sampler["num_inference_steps"]}
    pairs = 2 if small else 20
    attack = UnlearnDiffAtk(k=5, checks=2, iterations=2 if small else 10)
    figures = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu",
        "architecture": f"SD v1.4 widths / {args.width_divisor}, {8 * args.latent_size}x{8 * args.latent_size}",
        "dtype": "float32",
        "torch": torch.__version__,
        "sampler": sampler,
    }
    measurements = {
        "esd_iteration": partial(per_iteration, ESD(**hp), pipe, church, iterations),
        "aegis_iteration": partial(per_iteration, AEGIS(**hp), pipe, church, iterations),
        "acterase": partial(acterase_overhead, pipe, church, prompts, sampler, pairs),
        "unlearndiffatk": partial(attack_rates, profile, nudity, prompts, attack),
    }
    for name, fn in measurements.items():
        figures[name] = measured(args.device, fn)
        print(name, json.dumps(figures[name]), flush=True)
        if args.out:  # after each measurement, so a run cut short keeps what it measured
            tmp = args.out.with_name(f".{args.out.name}.tmp")
            tmp.write_text(json.dumps(figures, indent=1) + "\n")
            tmp.replace(args.out)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
