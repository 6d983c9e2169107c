"""Checkers for notebook 1, data preparation.
"""

import math
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from vae_tutorial.course.exercises.common import IMAGE_SHAPE, _call, _fmt, _not_attempted, _numpy, _passed, _which
from vae_tutorial.course.verdicts import recorded
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
                raise AssertionError(f"{path.name} came back with 4 channels (RGBA): composite it on white, then "
                                     "convert to RGB")
            if got.shape != IMAGE_SHAPE:
                raise AssertionError(f"{path.name} came back with shape {got.shape}: expected {IMAGE_SHAPE}, "
                                     "64×64 pixels and 3 channels (resize, and convert to RGB)")
            if dtype != np.float32:
                raise AssertionError(f"the image has dtype {dtype}: return float32, "
                                     "np.asarray(img, dtype=np.float32) / 255")
            if got.max() > 1.0 or got.min() < 0.0:
                raise AssertionError(f"values from {got.min():.3g} to {got.max():.3g}: divide by 255 so that they "
                                     "lie in [0, 1]")
            transparent = expected.min(axis=-1) == 1.0  # white in the reference: transparent in the file
            if transparent.any() and got[transparent].max() < 0.5:
                raise AssertionError(f"the transparent pixels of {path.name} came out black: composite the image "
                                     "on a white background")
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
        raise AssertionError(f"6 images of 8×8 in 4 columns gave shape {got.shape}: expected {expected.shape}, "
                             "(rows · height, ncols · width, 3) with rows = ceil(n / ncols)")
    hint = _which(got, [
        ("the grid is filled column by column: put image i at row i // ncols, column i % ncols",
         _tile(batch, 4, column_major=True)),
        ("each image is transposed (its rows became columns): copy image i as it is",
         _tile(batch.transpose(0, 2, 1, 3), 4)),
        ("the empty cells at the end are black: start from a white grid, np.ones(...)", _tile(batch, 4, empty=0.0)),
    ])
    if hint:
        raise AssertionError(hint)
    if not np.allclose(got, expected, atol=1e-6):
        raise AssertionError("the grid does not hold image i at row i // ncols, column i % ncols, "
                             "with no gaps and white empty cells")
    _passed(fn, "images row by row, empty cells white")
