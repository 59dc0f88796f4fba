"""The concept world: a deterministic renderer of 32x32 RGB images with exact labels.

Every image shows one object (a shape) in one colour and one style (a texture of the object), on a
varied background, at a varied position and size. An image may also carry the *unsafe-content
stand-in*: the "fire" attribute, a property of the whole backdrop (the way nudity is a property of an
image that any subject can have). Fire is drawn as one or more of its **parts**, each detected
separately by the judge as NudeNet detects body parts: flames rising from the bottom, smoke at the top,
embers scattered over the backdrop, and a glow that turns the backdrop dark red.

A scene may also have a *context* (`erasure.world.contexts`): a place that makes fire likely without a
caption naming it, the analogue of I2P's implicit prompts.

Images are drawn at 4x and downsampled, so edges are anti-aliased. The labels are exact: they are
the parameters the image was drawn from, so the judges trained on renders are exact too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

from erasure.world.contexts import CONTEXT_RATE, TRAINING_CONTEXTS, fire_probability

IMAGE_SIZE = 32
_SCALE = 4
_CANVAS = IMAGE_SIZE * _SCALE

OBJECTS = ("circle", "square", "triangle", "star", "heart", "cross", "house", "fish")
STYLES = ("flat", "striped", "dotted", "checkered", "outline")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange")
ATTRIBUTE = "fire"
#: Fire's visible parts, and how often each is drawn in a burning scene (at least one always is).
FIRE_PARTS = ("flames", "smoke", "embers", "glow")
PART_RATES = {"flames": 0.85, "smoke": 0.5, "embers": 0.5, "glow": 0.7}

RGB = {
    "red": (215, 35, 35),
    "green": (30, 160, 55),
    "blue": (35, 75, 215),
    "yellow": (235, 200, 25),
    "purple": (140, 50, 185),
    "orange": (245, 125, 15),
}
# Light, low-saturation backgrounds: the object's colour always stands out.
BACKGROUNDS = (
    (245, 245, 240),
    (225, 225, 225),
    (240, 228, 205),
    (210, 228, 245),
    (215, 240, 215),
    (240, 215, 230),
)


@dataclass(frozen=True)
class Scene:
    """The exact parameters of one image: its labels and its layout."""

    object: str
    style: str
    colour: str
    parts: tuple[str, ...]  # fire's parts drawn, in FIRE_PARTS order; empty when the scene does not burn
    context: str | None  # a context of erasure.world.contexts, or None
    background: int
    cx: float  # centre, in units of the image size
    cy: float
    size: float  # half-extent, in units of the image size
    rotation: float  # degrees, a small jitter
    gradient: float  # strength of the background's vertical gradient
    seed: int  # drives the fire's parts and the texture's phase

    @property
    def fire(self) -> bool:
        return bool(self.parts)

    def labels(self) -> dict[str, int]:
        """Integer labels, one per single-label judge head."""
        return {
            "object": OBJECTS.index(self.object),
            "style": STYLES.index(self.style),
            "colour": COLOURS.index(self.colour),
            "fire": int(self.fire),
        }

    def part_labels(self) -> tuple[int, ...]:
        """1 for each of FIRE_PARTS drawn, else 0: the judge's multi-label parts head."""
        return tuple(int(p in self.parts) for p in FIRE_PARTS)

    def to_dict(self) -> dict:
        return asdict(self)


def sample_scene(
    rng: np.random.Generator,
    *,
    object: str | None = None,
    style: str | None = None,
    colour: str | None = None,
    fire: bool | None = None,
    context: str | None = None,
    p_fire: float = 0.3,
    p_context: float = CONTEXT_RATE,
) -> Scene:
    """Draws a random scene; any label given is kept fixed. Unless `fire` or `context` is given, the
    scene has a training context with probability `p_context`; it then burns with the context's
    probability (`fire_probability`), and otherwise, without a context, with `p_fire` (named fire)."""
    object = object or OBJECTS[rng.integers(len(OBJECTS))]
    if fire is None and context is None and rng.random() < p_context:
        context = TRAINING_CONTEXTS[rng.integers(len(TRAINING_CONTEXTS))].name
    if fire is None:
        fire = bool(rng.random() < (fire_probability(context, object) if context else p_fire))
    size = rng.uniform(0.24, 0.36)
    margin = size + 0.04
    return Scene(
        object=object,
        style=style or STYLES[rng.integers(len(STYLES))],
        colour=colour or COLOURS[rng.integers(len(COLOURS))],
        parts=fire_parts(rng) if fire else (),
        context=context,
        background=int(rng.integers(len(BACKGROUNDS))),
        cx=float(rng.uniform(margin, 1 - margin)),
        cy=float(rng.uniform(margin, 1 - margin)),
        size=float(size),
        rotation=float(rng.uniform(-12, 12)),
        gradient=float(rng.uniform(-0.12, 0.12)),
        seed=int(rng.integers(2**31)),
    )


def fire_parts(rng: np.random.Generator) -> tuple[str, ...]:
    """The parts a burning scene shows: each with its PART_RATES probability, flames if none came up."""
    drawn = tuple(p for p in FIRE_PARTS if rng.random() < PART_RATES[p])
    return drawn or ("flames",)


def _polygon(name: str, cx: float, cy: float, r: float, rotation: float) -> list[tuple[float, float]]:
    """The outline of a shape as a polygon, in canvas pixels (rotated by a small jitter)."""
    if name == "circle":
        pts = [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * math.pi, 48, endpoint=False)]
    elif name == "square":
        pts = [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)]
    elif name == "triangle":
        pts = [(0.0, -1.0), (1.0, 0.8), (-1.0, 0.8)]
    elif name == "star":
        pts = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rad = 1.0 if k % 2 == 0 else 0.42
            pts.append((rad * math.cos(a), rad * math.sin(a)))
    elif name == "heart":
        pts = []
        for a in np.linspace(0, 2 * math.pi, 60, endpoint=False):
            x = 16 * math.sin(a) ** 3
            y = 13 * math.cos(a) - 5 * math.cos(2 * a) - 2 * math.cos(3 * a) - math.cos(4 * a)
            pts.append((x / 16.5, -y / 15.0 + 0.1))
    elif name == "cross":
        w = 0.32
        pts = [
            (-w, -1),
            (w, -1),
            (w, -w),
            (1, -w),
            (1, w),
            (w, w),
            (w, 1),
            (-w, 1),
            (-w, w),
            (-1, w),
            (-1, -w),
            (-w, -w),
        ]
    elif name == "house":  # a square body under a triangular roof: the church stand-in
        pts = [(0.0, -1.0), (0.95, -0.15), (0.7, -0.15), (0.7, 0.9), (-0.7, 0.9), (-0.7, -0.15), (-0.95, -0.15)]
    elif name == "fish":  # an elliptic body with a forked tail: the tench stand-in
        ends = math.pi - 0.6
        body = [(0.25 + 0.7 * math.cos(a), 0.42 * math.sin(a)) for a in np.linspace(-ends, ends, 30)]
        pts = [*body, (-1.0, 0.6), (-0.75, 0.0), (-1.0, -0.6)]
    else:
        raise ValueError(f"unknown object {name!r}; the world has {', '.join(OBJECTS)}")
    th = math.radians(rotation)
    c, s = math.cos(th), math.sin(th)
    return [(cx + r * (c * x - s * y), cy + r * (s * x + c * y)) for x, y in pts]


def _texture(style: str, colour: tuple[int, int, int], phase: int) -> Image.Image:
    """A full-canvas texture in the object's colour: what fills the shape."""
    light = tuple(int(0.35 * v + 0.65 * 255) for v in colour)
    tex = Image.new("RGB", (_CANVAS, _CANVAS), colour)
    draw = ImageDraw.Draw(tex)
    period = 4 * _SCALE  # 4 output pixels
    off = phase % period
    if style == "striped":
        tex.paste(light, (0, 0, _CANVAS, _CANVAS))
        for x in range(-_CANVAS, 2 * _CANVAS, period):
            x0 = x + off
            draw.polygon(
                [(x0, 0), (x0 + period // 2, 0), (x0 + period // 2 + _CANVAS, _CANVAS), (x0 + _CANVAS, _CANVAS)],
                fill=colour,
            )
    elif style == "dotted":
        tex.paste(light, (0, 0, _CANVAS, _CANVAS))
        rad, spacing = 1.2 * _SCALE, 6 * _SCALE
        for y in range(off - spacing, _CANVAS + spacing, spacing):
            for x in range(off - spacing, _CANVAS + spacing, spacing):
                draw.ellipse([x - rad, y - rad, x + rad, y + rad], fill=colour)
    elif style == "checkered":
        cell = 4 * _SCALE
        tex.paste(light, (0, 0, _CANVAS, _CANVAS))
        for i, y in enumerate(range(-cell, _CANVAS + cell, cell)):
            for j, x in enumerate(range(-cell, _CANVAS + cell, cell)):
                if (i + j) % 2 == 0:
                    draw.rectangle(
                        [x + off % cell, y + off % cell, x + off % cell + cell - 1, y + off % cell + cell - 1],
                        fill=colour,
                    )
    return tex


def _background(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """The backdrop: a light colour with a vertical gradient (dark red with the glow), then fire's
    other parts: smoke at the top, flames from the bottom, embers anywhere."""
    base = np.array(BACKGROUNDS[scene.background], dtype=np.float32)
    ramp = 1 + scene.gradient * np.linspace(-1, 1, _CANVAS, dtype=np.float32)[:, None, None]
    if "glow" in scene.parts:
        base = base * np.array([0.28, 0.12, 0.08], dtype=np.float32)  # dark, smoky red
    bg = np.clip(np.broadcast_to(base, (_CANVAS, _CANVAS, 3)) * ramp, 0, 255).astype(np.uint8)
    img = Image.fromarray(bg)
    for part in ("smoke", "flames", "embers"):
        if part in scene.parts:
            _DRAW_PART[part](img, rng)
    return img


def _draw_smoke(img: Image.Image, rng: np.random.Generator) -> None:
    """Grey puffs drifting across the top third, blended over the backdrop."""
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x in np.linspace(0, _CANVAS, int(rng.integers(4, 7))):
        cx, cy = x + rng.uniform(-0.05, 0.05) * _CANVAS, rng.uniform(0.08, 0.28) * _CANVAS
        rx, ry = rng.uniform(0.1, 0.16) * _CANVAS, rng.uniform(0.06, 0.1) * _CANVAS
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(140, 140, 145, 215))
    img.paste(Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB"))


def _draw_flames(img: Image.Image, rng: np.random.Generator) -> None:
    """Flame tongues rising from the bottom edge: red outside, orange, then a yellow core."""
    draw = ImageDraw.Draw(img)
    n = int(rng.integers(5, 8))
    xs = np.linspace(0, _CANVAS, n + 1)
    for layer, (colour, shrink) in enumerate((((230, 40, 10), 1.0), ((250, 140, 20), 0.7), ((255, 230, 80), 0.4))):
        for i in range(n):
            x0, x1 = xs[i], xs[i + 1]
            mid = (x0 + x1) / 2 + rng.uniform(-0.15, 0.15) * (x1 - x0)
            height = _CANVAS * rng.uniform(0.35, 0.6) * shrink
            half = (x1 - x0) * (0.75 - 0.15 * layer)
            draw.polygon([(mid - half, _CANVAS), (mid, _CANVAS - height), (mid + half, _CANVAS)], fill=colour)


def _draw_embers(img: Image.Image, rng: np.random.Generator) -> None:
    """Sparks scattered over the backdrop: white-hot dots in a thin dark-red rim. Not orange, so that
    no object colour (orange is one) or dotted texture passes for embers."""
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(12, 18))):
        x, y = rng.uniform(0.04, 0.96, size=2) * _CANVAS
        r = 1.2 * _SCALE
        draw.ellipse([x - r, y - r, x + r, y + r], fill=(150, 20, 10))
        draw.ellipse([x - r * 0.6, y - r * 0.6, x + r * 0.6, y + r * 0.6], fill=(255, 250, 205))


_DRAW_PART = {"smoke": _draw_smoke, "flames": _draw_flames, "embers": _draw_embers}


def render(scene: Scene) -> np.ndarray:
    """Renders one scene to a uint8 array of shape (32, 32, 3). Deterministic in the scene."""
    rng = np.random.default_rng(scene.seed)
    img = _background(scene, rng)
    colour = RGB[scene.colour]
    poly = _polygon(scene.object, scene.cx * _CANVAS, scene.cy * _CANVAS, scene.size * _CANVAS, scene.rotation)
    mask = Image.new("L", (_CANVAS, _CANVAS), 0)
    if scene.style == "outline":
        ImageDraw.Draw(mask).line(poly + poly[:1], fill=255, width=int(2.2 * _SCALE), joint="curve")
        img.paste(Image.new("RGB", img.size, colour), (0, 0), mask)
    else:
        ImageDraw.Draw(mask).polygon(poly, fill=255)
        img.paste(_texture(scene.style, colour, int(rng.integers(1 << 16))), (0, 0), mask)
    img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def render_batch(scenes: list[Scene]) -> np.ndarray:
    """Renders scenes to a uint8 array (N, 32, 32, 3)."""
    return np.stack([render(s) for s in scenes])
