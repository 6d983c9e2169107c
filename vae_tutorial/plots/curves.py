"""Figures made of curves and bars: learning curves from ``history.csv``, KL per latent dimension,
and a histogram of samples against the normal density.
"""

from __future__ import annotations

import csv

import numpy as np

from vae_tutorial.evaluation.summary import dimensions_by_kl


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
