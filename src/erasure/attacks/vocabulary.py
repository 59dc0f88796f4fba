"""The vocabulary a discrete prompt attack searches: whole-word tokens that survive a round trip through text.

An adversarial prompt is only worth releasing if the text a reader copies gives the same tokens again. A
word-piece continuation ("##ing" in BERT), a special token or a token with punctuation may not: decoded and
re-tokenised next to other words it can merge or split. So the attacks search only the tokens that are
alphabetic whole words and tokenise back to themselves alone (23,694 of MiniLM's 30,522; CLIP's word-final
`</w>` tokens on sd14). A sequence of such tokens decodes to words separated by spaces and tokenises back to
the same ids (tested).
"""

from __future__ import annotations

import functools

import torch


def attack_vocabulary(tokenizer) -> torch.Tensor:
    """The ids (sorted, int64) of the tokenizer's whole-word, alphabetic tokens that re-tokenise to themselves."""
    return _vocabulary(tokenizer.name_or_path, len(tokenizer), tokenizer)


@functools.lru_cache(maxsize=4)
def _vocabulary(name: str, size: int, tokenizer) -> torch.Tensor:
    special = set(tokenizer.all_special_ids)
    ids = [i for i in range(size) if i not in special]
    words = [tokenizer.decode([i]).strip() for i in ids]
    encoded = tokenizer(words, add_special_tokens=False).input_ids
    kept = [i for i, w, e in zip(ids, words, encoded, strict=True) if w.isalpha() and w.isascii() and e == [i]]
    return torch.tensor(kept, dtype=torch.long)


def decode_words(tokenizer, ids: list[int]) -> str:
    """The text of attack-vocabulary ids: their words joined by spaces."""
    return " ".join(tokenizer.decode([i]).strip() for i in ids)
