"""Attacked prompts per second, batched against one prompt at a time, measured in one run.

    python scripts/bench_attacks.py [--attack unlearndiffatk] [--n 16] [--threads 2]

The attack runs on the tiny base model's power prompts (the concept's word replaced, so no prompt is broken
with no attack and every prompt is searched for the whole budget, or until its first success): once with all
n prompts in one batch, then n times with one prompt each (prompt i with seed + i, which gives it the same
record as in the batch). Both runs do the same work per prompt; the ratio is what batching buys. The authors'
code attacks one prompt per process.
"""

from __future__ import annotations

import argparse
import time

import torch

from erasure.attacks import Unerased, attack_class
from erasure.profiles import load_profile
from erasure.robustness import power_prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attack", default="unlearndiffatk")
    parser.add_argument("--concept", default="fire")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    profile = load_profile("tiny")
    concept = profile.concepts[args.concept]
    attack = attack_class(args.attack)(seed=args.seed)
    prompts, targets = power_prompts(concept, args.n, args.seed)
    model = Unerased(profile.pipe)
    attack.run(profile, model, concept, prompts[:1], args.seed, targets[:1])  # warm-up (vocabulary, caches)

    started = time.perf_counter()
    batched = attack.run(profile, model, concept, prompts, args.seed, targets)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    alone = [
        attack.run(profile, model, concept, prompts[i : i + 1], args.seed + i, targets[i : i + 1]).records[0]
        for i in range(args.n)
    ]
    alone_s = time.perf_counter() - started
    same = sum(a.verdicts == b.verdicts and a.ids == b.ids for a, b in zip(alone, batched.records, strict=True))
    print(f"attack {attack.name} on the tiny base model, {args.n} prompts ({concept.name}), {args.threads} threads")
    print(f"batched:          {batched_s:7.1f} s  {args.n / batched_s:6.3f} prompts/s")
    print(f"one at a time:    {alone_s:7.1f} s  {args.n / alone_s:6.3f} prompts/s")
    print(f"speed-up:         {alone_s / batched_s:7.2f}x  (records identical for {same} of {args.n} prompts)")


if __name__ == "__main__":
    main()
