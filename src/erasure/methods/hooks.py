"""What the methods that act through UNet hooks share: reading a UNet call's inputs, its integer timestep,
and which rows of its batch are conditioned on a prompt (ActErase, SLD, ConceptPrune)."""

from __future__ import annotations

import torch


def unet_inputs(args: tuple, kwargs: dict) -> tuple[torch.Tensor, torch.Tensor | int, torch.Tensor]:
    """(x_t, t, text embeddings) of a `UNet2DConditionModel` call, however they were passed."""

    def get(name: str, position: int):
        return kwargs[name] if name in kwargs else args[position]

    return get("sample", 0), get("timestep", 1), get("encoder_hidden_states", 2)


def integer_timestep(t) -> int:
    return int(t.flatten()[0]) if torch.is_tensor(t) else int(t)


def prompted_rows(c: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
    """(B,) bool: the rows of text embeddings `c` (B, L, d) that are not the empty prompt's `null` (1, L, d),
    to the precision a batched text encoder reproduces it: CFG's unconditional half found by what it is."""
    if c.shape[1:] != null.shape[1:]:
        return torch.ones(len(c), dtype=torch.bool, device=c.device)
    null = null.to(c.device, c.dtype)
    return ~torch.isclose(c, null.expand_as(c), rtol=1e-3, atol=1e-4).flatten(1).all(dim=1)


class CurrentTimestep:
    """The integer timestep of the UNet call in progress (a forward pre-hook on the UNet) and, given the
    empty prompt's embedding `null`, which rows of its batch are prompted (`prompted`, (B,) bool). CFG's
    unconditional half is found by what it is, not where it sits, so a hook's effect on an image never
    depends on the batch it falls in."""

    def __init__(self, unet, null: torch.Tensor | None = None):
        self.t: int | None = None
        self.prompted: torch.Tensor | None = None
        self.null = null
        self.handle = unet.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs):
        _, t, c = unet_inputs(args, kwargs)
        self.t = integer_timestep(t)
        if self.null is not None:
            self.prompted = prompted_rows(c, self.null)

    def remove(self) -> None:
        self.handle.remove()
