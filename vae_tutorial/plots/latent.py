"""Figures of a two-dimensional latent space drawn whole: the decoded manifold, the codes of labelled images, and
samples with and without the decoder's noise.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def _figure(width, height, nrows=1, ncols=1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def latent_grid(n=15, extent=2.5, quantiles=False):
    """The ``(n * n, 2)`` points of an ``n`` × ``n`` grid, row by row from the top (largest z[1]) and left to right.

    Evenly spaced over ``[-extent, extent]²``, or with ``quantiles=True`` at the standard normal's quantiles
    ``(i + ½) / n``, so that each cell holds the same prior mass.
    """
    if n < 2:
        raise ValueError(f"Argument `n` must be at least 2. Received: n={n!r}")
    values = norm.ppf((np.arange(n) + 0.5) / n) if quantiles else np.linspace(-extent, extent, n)
    z0, z1 = np.meshgrid(values, values[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=1).astype("float32")


def plot_latent_manifold(decoder, n=15, extent=2.5, quantiles=False, title=None):
    """The images ``decoder`` (a callable from ``(B, 2)`` codes to images ``(B, h, w, c)`` in [0, 1]) draws at the
    points of :func:`latent_grid`, tiled in one picture with the z axes labelled. Returns the figure."""
    points = latent_grid(n, extent, quantiles)
    images = np.clip(np.asarray(decoder(points)), 0, 1)
    if images.ndim != 4 or images.shape[0] != len(points):
        raise ValueError(f"the decoder must return images (B, h, w, c); it returned shape {images.shape}")
    h, w = images.shape[1:3]
    tiled = images.reshape(n, n, h, w, -1).transpose(0, 2, 1, 3, 4).reshape(n * h, n * w, -1)
    values = points[:n, 0]
    fig, axes = _figure(6, 6)
    ax = axes[0, 0]
    ax.imshow(tiled.squeeze(-1) if tiled.shape[-1] == 1 else tiled, cmap="gray")
    ticks = (np.arange(n) + 0.5) * w
    ax.set_xticks(ticks, [f"{v:.1f}" for v in values], fontsize=7)
    ax.set_yticks(ticks, [f"{v:.1f}" for v in values[::-1]], fontsize=7)
    ax.set(xlabel="z[0]", ylabel="z[1]",
           title=title or (f"Generated: decoded at the {n}×{n} "
                           + ("quantiles of N(0, 1)" if quantiles else f"points of [−{extent}, {extent}]²")))
    return fig


def plot_latent_scatter(codes, labels, title="Validation codes (posterior means) by category", max_legend=12):
    """The two-dimensional ``codes`` ``(N, 2)``, one colour per label (the ``max_legend`` - 1 commonest labels get
    their own colour and legend entry, the rest are "other"), over the prior's 1σ and 2σ circles. Returns the
    figure."""
    codes, labels = np.asarray(codes), np.asarray(labels)
    if codes.ndim != 2 or codes.shape[1] != 2 or len(codes) != len(labels):
        raise ValueError(f"codes must be (N, 2) with one label each; got {codes.shape} and {len(labels)} labels")
    names, counts = np.unique(labels, return_counts=True)
    order = names[np.argsort(-counts, kind="stable")]
    shown = list(order[:max_legend - 1]) if len(order) > max_legend else list(order)
    fig, axes = _figure(6.5, 6)
    ax = axes[0, 0]
    for radius in (1, 2):
        angle = np.linspace(0, 2 * np.pi, 200)
        ax.plot(radius * np.cos(angle), radius * np.sin(angle), color="0.6", lw=0.8, ls="--")
    rest = ~np.isin(labels, shown)
    if rest.any():
        ax.scatter(*codes[rest].T, s=8, color="0.75", label=f"other ({rest.sum()})")
    colours = __import__("matplotlib").colormaps["tab10" if len(shown) <= 10 else "tab20"]
    for i, name in enumerate(shown):
        mask = labels == name
        ax.scatter(*codes[mask].T, s=10, color=colours(i), label=f"{name} ({mask.sum()})")
    ax.set(xlabel="z[0]", ylabel="z[1]", title=title, aspect="equal")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    return fig


def noisy_samples(decoded, log_variance, seed=0):
    """``decoded + σ·ε`` with ``σ² = exp(log_variance)`` and ε ~ N(0, I), clipped to [0, 1]: samples of the
    Gaussian decoder itself rather than its mean."""
    decoded = np.asarray(decoded, dtype="float32")
    sigma = float(np.exp(0.5 * float(log_variance)))
    noise = np.random.default_rng(seed).standard_normal(decoded.shape).astype("float32")
    return np.clip(decoded + sigma * noise, 0, 1)


def plot_samples_with_noise(decoded, log_variance, n=8, seed=0):
    """Two rows: ``n`` decoder means ``x̂(z)`` and the same with the decoder's noise, ``x̂(z) + σ·ε``. Returns the
    figure."""
    decoded = np.asarray(decoded)[:n]
    noisy = noisy_samples(decoded, log_variance, seed)
    sigma = float(np.exp(0.5 * float(log_variance)))
    fig, axes = _figure(1.2 * len(decoded), 2.8, 2, len(decoded))
    for row, (images, label) in enumerate([(decoded, "mean x̂(z)"), (noisy, f"x̂(z) + σε, σ = {sigma:.3f}")]):
        for col, image in enumerate(images):
            ax = axes[row, col]
            ax.imshow(np.clip(image, 0, 1))
            ax.set_xticks([]), ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle("Generated: the decoder's mean, and a sample of the decoder with its σ²")
    return fig
