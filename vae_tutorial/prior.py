"""Codes drawn from the prior N(0, I), the same for the same seed: what generation and the per-epoch grids decode."""

import numpy as np


def fixed_latents(n: int, latent_dim: int, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``n`` latent vectors z ~ N(0, temperature² I), the same for the same seed."""
    return (temperature * np.random.default_rng(seed).standard_normal((n, latent_dim))).astype("float32")
