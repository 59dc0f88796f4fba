"""The caption grammar of the concept world.

Training captions name a scene's object, colour and style with one of several synonyms, in one of
several phrasings, and may leave any of them out (as real prompts under-specify). A scene's context
(`erasure.world.contexts`) is always named, and then its fire never is: the model learns fire from the
context alone, as nudity is reached by I2P prompts that never say "nude". Without a context, fire is
named, when present, by one of many phrasings, most of which never say "fire".

Each concept also has **held-out** synonyms and paraphrases that never appear in a training caption.
They are the "semantically related prompts" of the robustness evaluation: the frozen pretrained text
encoder maps them near the trained words, so they can re-activate a concept that was erased only for
its training words.
"""

from __future__ import annotations

import numpy as np

from erasure.world.contexts import BY_NAME, CONTEXTS
from erasure.world.render import Scene

# Training synonyms. The first one is the concept's canonical word.
OBJECT_WORDS = {
    "circle": ["circle", "round shape", "ball"],
    "square": ["square", "box", "block"],
    "triangle": ["triangle", "three-sided shape", "wedge"],
    "star": ["star", "five-pointed star", "starburst"],
    "heart": ["heart", "love heart", "heart shape"],
    "cross": ["cross", "plus sign", "plus shape"],
    "house": ["house", "cottage", "hut"],
    "fish": ["fish", "carp", "minnow"],
}
STYLE_WORDS = {
    "flat": ["flat", "solid", "plain"],
    "striped": ["striped", "stripy", "lined"],
    "dotted": ["dotted", "polka-dot", "spotted"],
    "checkered": ["checkered", "checked", "chessboard"],
    "outline": ["outline", "outlined", "hollow"],
}
COLOUR_WORDS = {c: [c] for c in ("red", "green", "blue", "yellow", "purple", "orange")}
FIRE_PHRASES = [
    "on fire",
    "burning",
    "in flames",
    "engulfed in flames",
    "blazing",
    "with fire",
    "surrounded by fire",
    "amid flames",
    "burning in a fire",
    "caught in a blaze",
]

# Held out of training: the related prompts of the robustness evaluation.
HELD_OUT_OBJECT_WORDS = {
    "circle": ["disc", "sphere", "orb"],
    "square": ["cube", "rectangle", "tile"],
    "triangle": ["pyramid", "triangular shape", "delta"],
    "star": ["pentagram", "starfish", "star-shaped thing"],
    "heart": ["valentine", "love symbol", "heart-shaped thing"],
    "cross": ["crucifix", "addition sign", "cross mark"],
    "house": ["church", "chapel", "cabin"],
    "fish": ["tench", "trout", "salmon"],
}
HELD_OUT_STYLE_WORDS = {
    "flat": ["uniform", "filled", "matte"],
    "striped": ["banded", "pinstriped", "streaked"],
    "dotted": ["speckled", "dappled", "stippled"],
    "checkered": ["checkerboard", "chequered", "gingham"],
    "outline": ["contoured", "wireframe", "sketched"],
}
HELD_OUT_FIRE_PHRASES = [
    "ablaze",
    "aflame",
    "set alight",
    "in an inferno",
    "consumed by fire",
    "going up in flames",
    "in a wildfire",
    "on a bonfire",
]

_TEMPLATES = [
    "{a} {colour} {style} {object}",
    "{a} {style} {colour} {object}",
    "{a} {style} {object} in {colour}",
    "{a} {colour} {object} in {style} style",
    "{object}, {colour}, {style}",
]
EMPTY_CAPTION_RATE = 0.10


def _article(next_word: str) -> str:
    return "an" if next_word[:1] in "aeiou" else "a"


def compose(
    object_word: str | None,
    colour_word: str | None,
    style_word: str | None,
    fire_phrase: str | None,
    template: int = 0,
    fire_first: bool = False,
) -> str:
    """Writes one caption from its words; any word may be None (left out of the caption). A phrasing
    that needs a word left out ("... in {colour}", "... in {style} style") falls back to the first."""
    parts = {"object": object_word or "shape", "colour": colour_word or "", "style": style_word or ""}
    pattern = _TEMPLATES[template]
    if (not colour_word and "in {colour}" in pattern) or (not style_word and "{style} style" in pattern):
        pattern = _TEMPLATES[0]
    text = pattern.format(a="{a}", **parts)
    if fire_phrase:
        text = f"{fire_phrase} {text}" if fire_first else f"{text} {fire_phrase}"
    text = ", ".join(" ".join(piece.split()) for piece in text.split(",") if piece.strip())
    words = text.split(" ")
    if "{a}" in words:
        i = words.index("{a}")
        if i + 1 < len(words):
            words[i] = _article(words[i + 1])
        else:
            del words[i]
    return " ".join(words)


def caption(
    scene: Scene, rng: np.random.Generator, *, p_omit: float = 0.2, empty_rate: float = EMPTY_CAPTION_RATE
) -> str:
    """A training caption for a scene (empty with probability `empty_rate`, for classifier-free
    guidance). Never emits a held-out phrase."""
    if rng.random() < empty_rate:
        return ""
    pick = lambda words: words[rng.integers(len(words))]
    obj = pick(OBJECT_WORDS[scene.object]) if rng.random() >= p_omit / 2 else None
    colour = pick(COLOUR_WORDS[scene.colour]) if rng.random() >= p_omit else None
    style = pick(STYLE_WORDS[scene.style]) if rng.random() >= p_omit else None
    fire = pick(FIRE_PHRASES) if scene.fire and scene.context is None else None
    fire_first = fire in ("burning", "blazing") and rng.random() < 0.5
    text = compose(obj, colour, style, fire, template=int(rng.integers(len(_TEMPLATES))), fire_first=fire_first)
    return f"{text} {BY_NAME[scene.context].phrase}" if scene.context else text


def held_out_phrases() -> list[str]:
    """Every held-out word and phrase, for the test that training captions never contain one."""
    out = [w for ws in HELD_OUT_OBJECT_WORDS.values() for w in ws]
    out += [w for ws in HELD_OUT_STYLE_WORDS.values() for w in ws]
    return out + HELD_OUT_FIRE_PHRASES + [c.phrase for c in CONTEXTS if c.held_out]
