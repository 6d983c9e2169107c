"""The procedural shapes set: coloured shapes drawn from a seed, each image with its known factors
(shape, scale, rotation, position, colour) written beside it.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vae_tutorial import config
from vae_tutorial.config import IMAGE_SIZE

SHAPES = ("circle", "square", "triangle", "star")
SYMMETRY = {"circle": 0.0, "square": 90.0, "triangle": 120.0, "star": 72.0}
"""Degrees after which each shape looks the same again (0: every rotation looks the same)."""
IDENTIFIABLE_SCALE = (0.1, 0.22)
"""The scales of ``identifiable=True``; the centre lies in [0.22, 0.78], whatever the scale."""


def _polygon(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners = [(i * math.pi / 2 + math.pi / 4, radius) for i in range(4)]
    elif shape == "triangle":
        corners = [(i * 2 * math.pi / 3 - math.pi / 2, radius) for i in range(3)]
    else:  # star: five points, inner radius 0.45
        corners = [(i * math.pi / 5 - math.pi / 2, radius if i % 2 == 0 else 0.45 * radius) for i in range(10)]
    return [(cx + r * math.cos(a + angle), cy + r * math.sin(a + angle)) for a, r in corners]


def draw_shape(shape: str, scale: float, rotation: float, x: float, y: float,
               colour: tuple[int, int, int], image_size: int = IMAGE_SIZE, supersample: int = 4) -> Image.Image:
    """One RGB image of one shape on white.

    ``scale`` is the shape's radius as a fraction of the image size, ``rotation`` is in
    degrees, ``x`` and ``y`` are the centre in [0, 1]. Drawn ``supersample`` times larger
    and reduced, for smooth edges.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    size = image_size * supersample
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    cx, cy, radius = x * size, y * size, scale * size
    if shape == "circle":
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=tuple(colour))
    else:
        draw.polygon(_polygon(shape, cx, cy, radius, math.radians(rotation)), fill=tuple(colour))
    return img.resize((image_size, image_size), Image.Resampling.LANCZOS)


def shape_factors(n: int, seed: int = 0, identifiable: bool = False) -> list[dict]:
    """``n`` random factor sets (shape, scale, rotation, x, y, hue and the RGB colour).

    By default (the set the README's measurements use) the rotation is drawn over 0–360° for
    every shape, circles included, and the centre is drawn in [scale, 1 - scale], so position
    depends on size. With ``identifiable=True`` each factor can be read back from the image: a
    circle is not rotated (rotation 0), the other shapes are rotated only within their symmetry
    period (:data:`SYMMETRY`: square 90°, triangle 120°, star 72°), and x and y are drawn in
    [0.22, 0.78] independently of the scale, in :data:`IDENTIFIABLE_SCALE`.
    """
    import colorsys

    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        if identifiable:
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
            scale = float(rng.uniform(*IDENTIFIABLE_SCALE))
            rotation = float(rng.uniform(0, SYMMETRY[shape]))
            high = IDENTIFIABLE_SCALE[1]
            x, y = float(rng.uniform(high, 1 - high)), float(rng.uniform(high, 1 - high))
            hue = float(rng.uniform(0, 1))
        else:
            scale = float(rng.uniform(0.12, 0.3))
            hue = float(rng.uniform(0, 1))
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
            rotation = float(rng.uniform(0, 360))
            x, y = float(rng.uniform(scale, 1 - scale)), float(rng.uniform(scale, 1 - scale))
        r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.9)
        rows.append({
            "file": f"shape_{i:05d}.png",
            "shape": shape,
            "scale": round(scale, 4),
            "rotation": round(rotation, 2),
            "x": round(x, 4),
            "y": round(y, 4),
            "hue": round(hue, 4),
            "colour": (int(r * 255), int(g * 255), int(b * 255)),
        })
    return rows


def make_shapes(directory: str | os.PathLike, n: int = config.SHAPES, seed: int = config.SEED,
                image_size: int = IMAGE_SIZE, identifiable: bool = False) -> Path:
    """Write ``n`` shape PNGs to ``directory/images/`` and their factors to ``directory/factors.csv``.

    Returns the images folder. Same seed, same files; a folder already made with the
    same ``n``, ``seed``, size and ``identifiable`` is reused as it is. ``identifiable``: see
    :func:`shape_factors` (the default, False, draws the set the README's measurements use).
    """
    directory = Path(directory)
    images = directory / "images"
    stamp = f"n={n} seed={seed} image_size={image_size}\n"
    if identifiable:  # the default's stamp is unchanged, so folders made before are still reused
        stamp += "identifiable\n"
    stamp_file = directory / "SHAPES"
    if stamp_file.is_file() and stamp_file.read_text() == stamp:
        return images
    images.mkdir(parents=True, exist_ok=True)
    rows = shape_factors(n, seed, identifiable)
    for row in rows:
        draw_shape(row["shape"], row["scale"], row["rotation"], row["x"], row["y"], row["colour"],
                   image_size).save(images / row["file"])
    with open(directory / "factors.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "colour": "#%02x%02x%02x" % row["colour"]})
    stamp_file.write_text(stamp)
    return images


def read_shape_factors(images: str | os.PathLike) -> list[dict]:
    """The rows of ``factors.csv`` beside the images folder returned by :func:`make_shapes`."""
    with open(Path(images).parent / "factors.csv", newline="") as f:
        return list(csv.DictReader(f))
