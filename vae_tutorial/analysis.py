"""Looking inside a trained VAE: how much each latent dimension is used, and how good the copies are.

- **KL per dimension** and **active units**: defined in :mod:`vae_tutorial.latent_statistics`,
  and public here too;
- **Per-pixel MSE**, next to the MSE of always predicting the mean image: a model whose
  error is no better than that baseline ignores its input.
- **evaluate**: the held-out ELBO in nats and bits per dimension and the importance-weighted
  bound on log p(x), with the above (defined in :mod:`vae_tutorial.evaluation`).

Also the teaching figures the notebooks need: learning curves, the per-epoch grids, a
histogram of samples against the normal density, a transposed convolution on a small
grid, and reconstructions of several models side by side.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vae_tutorial.data import visualize_batch
from vae_tutorial.evaluation import evaluate  # noqa: F401  (held-out ELBO and IWAE bound; public here)
from vae_tutorial.generation import encode, reconstruct
from vae_tutorial.latent_statistics import (ACTIVE_THRESHOLD, active_dimensions, active_units,  # noqa: F401
                                            kl_per_dimension)

# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------


def per_pixel_mse(images, reconstructions) -> float:
    """Mean squared error over images, pixels and channels."""
    images = np.asarray(images, dtype=np.float64)
    reconstructions = np.asarray(reconstructions, dtype=np.float64)
    if images.shape != reconstructions.shape:
        raise ValueError(f"shapes differ: images {images.shape}, reconstructions {reconstructions.shape}")
    return float(np.mean((images - reconstructions) ** 2))


def mean_image_mse(images) -> float:
    """The per-pixel MSE of always answering the mean image: what a model that ignores its input achieves."""
    images = np.asarray(images, dtype=np.float64)
    return per_pixel_mse(images, np.broadcast_to(images.mean(axis=0), images.shape))


def dimensions_by_kl(kl) -> np.ndarray:
    """Latent dimension indices, the one carrying the most KL first."""
    return np.argsort(-np.asarray(kl), kind="stable")


def summarize(model, images, threshold: float = ACTIVE_THRESHOLD) -> dict:
    """KL, active units and reconstruction error of ``model`` on ``images``, as a dict of numbers.

    Keys: ``kl`` (mean per image, summed over dimensions), ``active_units``, ``latent_dim``,
    ``mse`` (per pixel, reconstructions from ``mu``) and ``mean_image_mse`` (the baseline).
    """
    images = np.asarray(images, dtype=np.float32)
    mu, log_var = encode(model, images)
    return {
        "kl": float(kl_per_dimension(mu, log_var).sum()),
        "active_units": active_units(mu, threshold),
        "latent_dim": int(mu.shape[1]),
        "mse": per_pixel_mse(images, reconstruct(model, images)),
        "mean_image_mse": mean_image_mse(images),
    }


def latent_traversal(model_or_decoder, dimension: int, values, z=None) -> np.ndarray:
    """Decode ``z`` (default 0, the prior's mode) with ``z[dimension]`` set to each of ``values``."""
    decoder = getattr(model_or_decoder, "decoder", model_or_decoder)
    latent_dim = decoder.input_shape[-1]
    if not 0 <= dimension < latent_dim:
        raise ValueError(f"dimension must be in [0, {latent_dim}), got {dimension}")
    base = np.zeros(latent_dim, "float32") if z is None else np.asarray(z, "float32")
    batch = np.repeat(base[None], len(values), axis=0)
    batch[:, dimension] = values
    return np.asarray(decoder(batch, training=False))


def take_images(dataset, n: int) -> np.ndarray:
    """The first ``n`` images of a batched ``tf.data`` pipeline as one array.

    Reads the whole pipeline: stopping early would make a cached pipeline discard its
    cache (and TensorFlow warn about it).
    """
    taken, count = [], 0
    for batch in dataset:
        if count < n:
            taken.append(np.asarray(batch))
            count += len(taken[-1])
    return np.concatenate(taken)[:n]


# ---------------------------------------------------------------------------------------
# Figures (matplotlib Figures, not pyplot: display one by making it a cell's last value)
# ---------------------------------------------------------------------------------------


def _figure(width, height, ncols=1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def plot_kl_per_dimension(kl, threshold_mask=None, title="KL per latent dimension (sorted)"):
    """Bars of the KL of each dimension, largest first.

    With ``threshold_mask`` (True for an active dimension), active dimensions are blue and inactive ones
    grey, and the title counts each colour that appears, so it never names a colour no bar has.
    """
    kl = np.asarray(kl)
    order = dimensions_by_kl(kl)
    fig, (ax,) = _figure(8, 3)
    colours = "tab:blue"
    if threshold_mask is not None:
        active = np.asarray(threshold_mask, dtype=bool)
        if active.shape != kl.shape:
            raise ValueError(f"Argument `threshold_mask` must have the shape of `kl` {kl.shape}. "
                             f"Received: threshold_mask.shape={active.shape}")
        colours = np.where(active[order], "tab:blue", "0.7")
        n_active, n = int(active.sum()), len(kl)
        if n_active == n:
            title += f": all {n} dimensions active"
        elif n_active == 0:
            title += f": none of the {n} dimensions active (all grey)"
        else:
            title += f": {n_active} active (blue), {n - n_active} inactive (grey)"
    ax.bar(np.arange(len(kl)), kl[order], width=1.0, color=colours)
    ax.set_xlabel("latent dimensions, sorted by KL")
    ax.set_ylabel("KL (nats)")
    ax.set_xlim(-0.5, len(kl) - 0.5)
    ax.set_title(title)
    return fig


def read_history(path) -> dict[str, np.ndarray]:
    """``history.csv`` (written by ``CSVLogger``) as column name → array."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no epochs")
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}


def plot_history(path):
    """Learning curves from ``history.csv``: reconstruction loss and KL, training and validation."""
    from matplotlib.ticker import MaxNLocator

    history = read_history(path)
    epochs = history["epoch"] + 1
    fig, axes = _figure(9, 3.2, ncols=2)
    for ax, key, name in zip(axes, ("reconstruction_loss", "kl_loss"), ("Reconstruction loss", "KL divergence")):
        ax.plot(epochs, history[key], "o-", label="training")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("per image (nats)")
        ax.set_title(name)
        ax.legend()
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


def plot_samples_vs_density(samples, mu: float, log_var: float, bins: int = 60):
    """A histogram of samples of z against the density of N(mu, exp(log_var))."""
    samples = np.asarray(samples, dtype=np.float64).ravel()
    sigma = float(np.exp(0.5 * log_var))
    grid = np.linspace(mu - 4 * sigma, mu + 4 * sigma, 400)
    fig, (ax,) = _figure(6, 3)
    ax.hist(samples, bins=bins, density=True, alpha=0.6, label=f"{len(samples):,} samples of z")
    ax.plot(grid, np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)), "k-",
            label=f"N(μ={mu:g}, σ²={sigma**2:.3g}) density")
    ax.set_xlabel("z")
    ax.set_ylabel("density")
    ax.legend()
    return fig


def plot_transposed_convolution(inputs, outputs):
    """A small input grid and the output of a transposed convolution, each cell labelled with its value."""
    fig, axes = _figure(8, 4, ncols=2)
    for ax, grid, name in zip(axes, (np.asarray(inputs), np.asarray(outputs)), ("input", "output")):
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=max(float(np.max(grid)), 1e-9) * 1.3)
        for (i, j), value in np.ndenumerate(grid):
            ax.text(j, i, f"{value:g}", ha="center", va="center", fontsize=9)
        ax.set_title(f"{name} {grid.shape[0]}×{grid.shape[1]}")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_reconstruction_comparison(originals, reconstructions: dict, ncols: int = 8,
                                   title="Reconstructions: originals (top), each model's reconstructions below"):
    """Originals in the first row, then one row of reconstructions per model (``label → images``)."""
    originals = np.asarray(originals)[:ncols]
    rows = [originals] + [np.asarray(images)[:ncols] for images in reconstructions.values()]
    labels = ["Original"] + [f"Reconstruction\n{label}" for label in reconstructions]
    return visualize_batch(np.concatenate(rows), ncols=len(originals), title=title, row_labels=labels)
