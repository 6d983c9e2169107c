"""Notebook 1, data preparation: the instructor's solutions."""

import numpy as np
from PIL import Image, ImageOps


def my_preprocess(path):
    """One image file → float32 array (64, 64, 3) in [0, 1], transparent pixels white."""
    with Image.open(path) as img:
        img = img.convert("RGBA")  # every mode, palettes with a transparent colour included
        background = Image.new("RGBA", img.size, "white")
        img = Image.alpha_composite(background, img).convert("RGB")
        img = ImageOps.fit(img, (64, 64))  # crop to a square, then resize
    return np.asarray(img, dtype=np.float32) / 255.0


def my_visualize_batch(batch, ncols=8):
    """Images (n, h, w, 3) → one picture of them row by row, ncols to a row; empty cells white."""
    n, height, width, _ = batch.shape
    nrows = -(-n // ncols)  # ceil(n / ncols)
    grid = np.ones((nrows * height, ncols * width, 3), dtype=np.float32)
    for i in range(n):
        row, col = i // ncols, i % ncols
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = batch[i]
    return grid
