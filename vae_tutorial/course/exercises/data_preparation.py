"""Checkers for notebook 1, data preparation.
"""

import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vae_tutorial.course.exercises.common import (
    IMAGE_SHAPE,
    _call,
    _fmt,
    _not_attempted,
    _numpy,
    _passed,
    _which_mistake,
)
from vae_tutorial.course.verdicts import Mistake, recorded
from vae_tutorial.data.images import preprocess_image


def _write_test_images(folder):
    """Four image files with what real folders hold: transparency, a palette, another size, greyscale."""
    rgba = np.zeros((64, 64, 4), np.uint8)  # bottom right stays (0, 0, 0, 0): transparent, so white
    rgba[:, :32] = (230, 30, 30, 255)  # opaque red
    rgba[:32, 32:] = (0, 0, 255, 128)  # half-transparent blue: a light blue on white
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    palette = Image.new("P", (64, 64), 0)  # colour 0 (black) is the transparent one
    palette.putpalette([0, 0, 0, 40, 160, 40] + [0] * 762)
    palette.paste(1, (16, 16, 48, 48))  # a green square in the middle
    palette.save(folder / "palette.png", transparency=0)
    Image.new("RGB", (96, 64), (20, 120, 200)).save(folder / "wide.png")
    Image.new("L", (128, 128), 90).save(folder / "grey.png")
    return [folder / name for name in ("rgba.png", "palette.png", "wide.png", "grey.png")]


@recorded
def check_preprocess(fn):
    """``fn(path) -> image``: float32 (64, 64, 3) in [0, 1], transparent pixels white."""
    with tempfile.TemporaryDirectory() as folder:
        for path in _write_test_images(Path(folder)):
            got = _call(fn, str(path))
            if _not_attempted(fn, got):
                return
            if not hasattr(got, "shape"):
                raise AssertionError(f"it returned a {type(got).__name__}: return a NumPy array")
            expected = preprocess_image(path)
            dtype = got.dtype
            got = np.asarray(got)
            if got.ndim == 3 and got.shape[-1] == 4:
                raise Mistake(f"{path.name} came back with 4 channels (RGBA); the contract says 3 (RGB)",
                              "composite the image on white, then convert it to RGB")
            if got.shape != IMAGE_SHAPE:
                raise Mistake(f"{path.name} came back with shape {got.shape}; the contract says {IMAGE_SHAPE}, "
                              "64×64 pixels and 3 channels",
                              "resize to 64×64 (e.g. ImageOps.fit), and convert to RGB")
            if dtype != np.float32:
                raise Mistake(f"the image has dtype {dtype}; the contract says float32",
                              "np.asarray(img, dtype=np.float32) / 255")
            if got.max() > 1.0 or got.min() < 0.0:
                raise Mistake(f"values go from {got.min():.3g} to {got.max():.3g}; the contract says [0, 1]",
                              "the file holds integers from 0 to 255 per channel: divide by 255")
            transparent = expected.min(axis=-1) == 1.0  # white in the reference: transparent in the file
            if transparent.any() and got[transparent].max() < 0.5:
                raise Mistake(f"the transparent pixels of {path.name} came out black; the contract says white",
                              "composite the image on a white background (Image.alpha_composite) before converting "
                              "it to RGB")
            if not np.allclose(got, expected, atol=3 / 255):
                row, col = np.unravel_index(np.abs(got - expected).max(axis=-1).argmax(), got.shape[:2])
                raise AssertionError(f"{path.name}: pixel ({row}, {col}) is {_fmt(got[row, col])}, expected "
                                     f"{_fmt(expected[row, col])}")
    _passed(fn, "float32 (64, 64, 3) in [0, 1], transparency on white")


def _colour_batch():
    """Six 8×8 images, image i a plain colour with one black pixel at row 0, column 1 (to see a transpose)."""
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]], np.float32) * 0.8
    batch = np.ones((6, 8, 8, 3), np.float32) * colours[:, None, None, :]
    batch[:, 0, 1] = 0.0
    return batch


def _tile(images, ncols, column_major=False, empty=1.0):
    """The grid ``check_visualize_batch`` expects (no gaps, empty cells white), or a mistaken variant of it."""
    n, height, width, _ = images.shape
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * height, ncols * width, 3), empty, np.float32)
    for i, image in enumerate(images):
        row, col = (i % nrows, i // nrows) if column_major else divmod(i, ncols)
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = image
    return grid


@recorded
def check_visualize_batch(fn):
    """``fn(batch, ncols) -> grid``: the images side by side, row by row, empty cells white."""
    batch = _colour_batch()
    got = _call(fn, batch, 4)
    if _not_attempted(fn, got):
        return
    got = _numpy(got)
    expected = _tile(batch, 4)
    if got.shape != expected.shape:
        raise Mistake(f"6 images of 8×8 in 4 columns gave shape {got.shape}, expected {expected.shape}",
                      "(rows · height, ncols · width, 3) with rows = ceil(n / ncols)")
    mistake = _which_mistake(got, [
        (Mistake("the grid is filled column by column; the contract says row by row",
                 "put image i at row i // ncols, column i % ncols"), _tile(batch, 4, column_major=True)),
        (Mistake("each image is transposed (its rows became columns)",
                 "copy image i into its cell as it is, without swapping its axes"),
         _tile(batch.transpose(0, 2, 1, 3), 4)),
        (Mistake("the empty cells at the end are black; the contract says white",
                 "start from a white grid, np.ones(...), and copy the images into it"), _tile(batch, 4, empty=0.0)),
    ])
    if mistake:
        raise mistake
    if not np.allclose(got, expected, atol=1e-6):
        raise AssertionError("the grid does not hold image i at row i // ncols, column i % ncols, "
                             "with no gaps and white empty cells")
    _passed(fn, "images row by row, empty cells white")
