"""Plain numbers about reconstructions: the per-pixel error, the error of always predicting the mean
image (a model no better than that ignores its input), and a one-call summary with the latent
statistics.
"""

from __future__ import annotations

import numpy as np

from vae_tutorial.evaluation.codes import encode
from vae_tutorial.evaluation.latent_statistics import ACTIVE_THRESHOLD, active_units, kl_per_dimension
from vae_tutorial.evaluation.codes import reconstruct


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
