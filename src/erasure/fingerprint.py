"""What identifies a base model: a short digest of its weights, the same on every device.

An erased model records the fingerprint of the pipeline it was made from, and loading it onto another
base model is refused; a fine-tuning checkpoint is resumed only by a run on the same base model.
"""

from __future__ import annotations

import hashlib

import torch

#: Values read from each tensor (evenly spaced): enough to tell models apart, cheap for SD v1.4 on a GPU.
SAMPLES_PER_TENSOR = 4096
#: The pipeline components whose weights determine its images.
COMPONENTS = ("unet", "text_encoder", "vae")


@torch.no_grad()
def _add_module(h, module: torch.nn.Module) -> None:
    """Feeds every tensor's name, shape and evenly spaced values (float32 bytes, on the CPU) into `h`."""
    for name, tensor in sorted(module.state_dict().items()):
        flat = tensor.detach().reshape(-1)
        step = max(1, flat.numel() // SAMPLES_PER_TENSOR)
        values = flat[::step].to("cpu", torch.float32).contiguous()
        h.update(f"{name}{tuple(tensor.shape)}".encode())
        h.update(values.numpy().tobytes())


def pipeline_fingerprint(pipe) -> str:
    """The fingerprint of a pipeline's UNet, text encoder and VAE together (16 hex digits)."""
    h = hashlib.sha256()
    for component in COMPONENTS:
        _add_module(h, getattr(pipe, component))
    return h.hexdigest()[:16]
