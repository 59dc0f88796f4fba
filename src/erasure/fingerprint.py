"""What identifies a base model: a short digest of its weights, the same on every device.

An erased model records the fingerprint of the pipeline it was made from, and loading it onto another
base model is refused; a fine-tuning checkpoint is resumed only by a run on the same base model. Every
stored result's key holds it, so it is computed once per pipeline and computed again only when a weight
was written or replaced since.
"""

from __future__ import annotations

import hashlib
import itertools
import weakref

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


#: Each pipeline's fingerprint with the weights' versions it was computed at (forgotten with the pipeline).
_KNOWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weight_versions(pipe) -> tuple:
    """Identity, storage and in-place version counter of every weight: any write or replacement changes it."""
    modules = [getattr(pipe, component) for component in COMPONENTS]
    tensors = itertools.chain.from_iterable(itertools.chain(m.parameters(), m.buffers()) for m in modules)
    return tuple((id(t), t.data_ptr(), t._version) for t in tensors)


def pipeline_fingerprint(pipe) -> str:
    """The fingerprint of a pipeline's UNet, text encoder and VAE together (16 hex digits)."""
    versions = _weight_versions(pipe)
    known = _KNOWN.get(pipe)
    if known is not None and known[0] == versions:
        return known[1]
    h = hashlib.sha256()
    for component in COMPONENTS:
        _add_module(h, getattr(pipe, component))
    _KNOWN[pipe] = (versions, h.hexdigest()[:16])
    return _KNOWN[pipe][1]
