"""How much a VAE's latent dimensions are used: numbers computed from the encoder's outputs.

- **KL per dimension**: the KL term of the loss split by latent dimension and averaged over a
  data set. A dimension whose KL is near 0 has a posterior equal to the prior for every image:
  it carries no information about the image.
- **Active units** (Burda et al., 2016): dimension ``j`` is *active* when the posterior mean
  varies over the data, ``Var_x(E[z_j | x]) > 0.01``. An inactive dimension has the same ``mu``
  for every image, so the decoder cannot learn anything from it.

In float64 (the KL is the loss's own formula): the evaluation, the loss-terms report and the notebooks' analysis
use these.
"""

from __future__ import annotations

import numpy as np

from vae_tutorial.losses import kl_divergence


ACTIVE_THRESHOLD = 0.01


def kl_per_dimension(mu, log_var) -> np.ndarray:
    """KL(q(z_j | x) || N(0, 1)) for each latent dimension j, averaged over the images: (latent_dim,).

    Its sum is the KL term of the loss (averaged over the same images): the loss's
    :func:`~vae_tutorial.losses.kl_divergence` of each dimension as a one-dimensional Gaussian, in float64.
    """
    mu = np.asarray(mu, dtype=np.float64)[..., None]
    log_var = np.asarray(log_var, dtype=np.float64)[..., None]
    return np.asarray(kl_divergence(mu, log_var)).mean(axis=0)


def active_dimensions(mu, threshold: float = ACTIVE_THRESHOLD) -> np.ndarray:
    """A boolean mask (latent_dim,): True where the variance over the images of ``mu`` exceeds ``threshold``."""
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or len(mu) < 2:
        raise ValueError(f"mu must have shape (n_images >= 2, latent_dim), got {mu.shape}")
    return mu.var(axis=0) > threshold


def active_units(mu, threshold: float = ACTIVE_THRESHOLD) -> int:
    """How many latent dimensions are active (see :func:`active_dimensions`)."""
    return int(active_dimensions(mu, threshold).sum())
