"""Figures made of images: a batch as a grid, generated samples, reconstructions beside their
originals, several models' reconstructions side by side, and the per-epoch grids of a run.
Every title says whether images were generated (decoded from sampled codes) or reconstructed
(decoded from the codes of real images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np



def visualize_batch(
    batch,
    n: int | None = None,
    ncols: int = 8,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cell_size: float = 1.0,
):
    """A matplotlib Figure with a grid of images from ``batch`` (N, H, W, 3) in [0, 1].

    ``row_labels`` names each row (for example "Original" / "Reconstruction").
    The grid is one picture (the images side by side, white lines between them) on one Axes:
    an Axes per image took several times as long to draw, and training draws a grid after
    every epoch.
    """
    from matplotlib.figure import Figure  # not pyplot: nothing to close, no global state

    images = np.clip(np.asarray(batch, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"batch must have shape (N, H, W, 3), got {images.shape}")
    if n is not None:
        images = images[:n]
    if len(images) == 0:
        raise ValueError("batch has no images to draw")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    height, width = images.shape[1:3]
    gap = max(1, height // 32)  # white pixels between neighbours
    grid = np.ones((nrows * (height + gap) - gap, ncols * (width + gap) - gap, 3), np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        grid[row * (height + gap):row * (height + gap) + height, col * (width + gap):col * (width + gap) + width] = image
    label_width = 1.2 if row_labels else 0.0
    fig = Figure(figsize=(ncols * cell_size + label_width, nrows * cell_size + (0.4 if title else 0)))
    left = label_width / fig.get_figwidth() if row_labels else 0.01
    top = (1 - 0.45 / fig.get_figheight()) if title else 0.99
    ax = fig.add_axes((left, 0.01, 0.99 - left, top - 0.01))
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    labels = list(row_labels[:nrows]) if row_labels else []
    ax.set_yticks([r * (height + gap) + (height - 1) / 2 for r in range(len(labels))], labels, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def plot_epoch_grids(directory, epochs=None):
    """The ``epoch_NNN.png`` grids written by ``SampleGrid``, one above the other (default: all)."""
    from PIL import Image

    paths = sorted(Path(directory).glob("epoch_*.png"))
    if epochs is not None:
        wanted = {f"epoch_{e:03d}.png" for e in epochs}
        paths = [p for p in paths if p.name in wanted]
    if not paths:
        raise ValueError(f"no epoch grids in {directory}")
    from matplotlib.figure import Figure

    pictures = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    fig = Figure(figsize=(pictures[0].shape[1] / 80, sum(p.shape[0] for p in pictures) / 80))
    for ax, picture in zip(fig.subplots(len(pictures), 1, squeeze=False)[:, 0], pictures):
        ax.imshow(picture)
        ax.axis("off")
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1, hspace=0.02)
    return fig


def plot_reconstruction_comparison(originals, reconstructions: dict, ncols: int = 8,
                                   title="Reconstructions: originals (top), each model's reconstructions below"):
    """Originals in the first row, then one row of reconstructions per model (``label → images``)."""
    originals = np.asarray(originals)[:ncols]
    rows = [originals] + [np.asarray(images)[:ncols] for images in reconstructions.values()]
    labels = ["Original"] + [f"Reconstruction\n{label}" for label in reconstructions]
    return visualize_batch(np.concatenate(rows), ncols=len(originals), title=title, row_labels=labels)


GENERATED_TITLE = "Generated: decoded from random z ~ N(0, I)"


MIXTURE_TITLE = "Generated: decoded from z sampled from a Gaussian mixture fitted to the training codes"


RECONSTRUCTED_TITLE = "Reconstructions: originals (top) decoded from their encodings (below)"


def plot_generated(images, title: str = GENERATED_TITLE, ncols: int = 8):
    """A labelled grid of generated images."""
    return visualize_batch(images, ncols=ncols, title=title)


def plot_reconstructions(originals, reconstructions, title: str = RECONSTRUCTED_TITLE, ncols: int = 8):
    """Originals above their reconstructions, in labelled row pairs."""
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    rows, labels = [], []
    for start in range(0, len(originals), ncols):
        chunk = slice(start, start + ncols)
        pad = ncols - len(originals[chunk])
        for block, label in ((originals[chunk], "Original"), (reconstructions[chunk], "Reconstruction")):
            rows.append(np.concatenate([block, np.ones((pad, *block.shape[1:]), block.dtype)]) if pad else block)
            labels.append(label)
    return visualize_batch(np.concatenate(rows), ncols=ncols, title=title, row_labels=labels)
