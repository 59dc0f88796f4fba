"""UCE, Unified Concept Editing (Gandikota et al., WACV 2024), on diffusers: a closed-form edit of every
cross-attention key and value projection, in seconds, with no data and no training.

Each word to erase, embedded at its last token (c_i), must give the output its guide gives under the old
weights (v*_i = W_old c_guide); each word to preserve keeps its old output (v*_j = W_old c_j); lambda
keeps the rest of W near W_old (Eq. 7, `closed_form.closed_form_edit`). Values and deviations: docs/baselines.md.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import ClassVar

from erasure.methods.base import ErasedModel
from erasure.methods.closed_form import (
    ClosedFormHyperparameters,
    ProjectionEdit,
    closed_form_edit,
    last_word_embeddings,
)
from erasure.methods.defaults import ProfileDefaults
from erasure.methods.finetune import FineTunedModel


@dataclass(frozen=True)
class UCE(ProfileDefaults, ClosedFormHyperparameters):
    """UCE; sd14 defaults are the released script's (lambda 0.5, erase and preserve scales 1, nothing
    preserved unless named). The words erased are the concept's training words; the guide is the
    concept's anchor (tiny: "shape" for objects, the empty prompt for styles and fire; the script's
    defaults are the empty prompt for objects and "art" for styles)."""

    name: ClassVar[str] = "uce"
    #: The guide's text; None: the concept's anchor.
    guide: str | None = None
    #: Words whose outputs are kept (UCE's preserve concepts); none by default, as in the released script.
    preserve: tuple[str, ...] = ()

    def guide_text(self, concept) -> str:
        return concept.anchor if self.guide is None else self.guide

    def edit(self, pipe, concept) -> ProjectionEdit:
        """Eq. 7 on every key and value projection, from the base pipeline's weights."""
        words = list(concept.erase)
        c_erase = last_word_embeddings(pipe, words)
        c_guide = last_word_embeddings(pipe, [self.guide_text(concept)] * len(words))
        c_keep = last_word_embeddings(pipe, list(self.preserve)) if self.preserve else c_erase[:0]
        edit = ProjectionEdit.of(pipe.unet)
        for name, w_old in list(edit.weights.items()):
            edit.weights[name] = closed_form_edit(
                w_old,
                c_erase,
                edit.outputs(name, c_guide),
                c_keep,
                edit.outputs(name, c_keep),
                self.lamb,
                self.erase_scale,
                self.preserve_scale,
            )
        return edit

    def erase(self, pipe, concept) -> UCEModel:
        start = time.perf_counter()
        edit = self.edit(pipe, concept)
        info = {"erase_seconds": time.perf_counter() - start, "changed_tensors": len(edit.weights)}
        return UCEModel(pipe, concept.name, asdict(self), info, edit.changed())


@ErasedModel.register
class UCEModel(FineTunedModel):
    """The base pipeline with UCE's edited key and value projections."""

    method = "uce"
