"""How the two terms of the loss compare after training: the line ``train`` prints and ``metrics.json``.

A healthy VAE spends nats of KL on the dimensions that carry information about the image. Two
failures show here first:

- **posterior collapse**: the KL per image is near 0 and no latent dimension is active, so the
  decoder ignores z and draws the average image;
- **a per-pixel mean reconstruction term** (``reconstruction_reduction="mean"``), 64·64·3 times
  smaller than the summed one, which lets the KL term win and leads to that collapse.
"""

from __future__ import annotations

import numpy as np

COLLAPSED_KL = 0.5  # nats per image: below this, and with no active unit, the posterior has collapsed


def loss_scale(model, images) -> dict:
    """The loss terms of ``model`` on ``images`` (N, S, S, 3): a dict of plain numbers.

    Keys: ``images``, ``latent_dim``, ``reconstruction_reduction``, ``reconstruction`` (the squared error per
    image, summed or, for ``reconstruction_reduction="mean"``, averaged over its values, of the images decoded
    from their posterior means), ``mse_per_pixel`` (the same error per value), ``kl`` (per image),
    ``kl_per_dimension`` (its mean over dimensions), ``active_units``, ``collapsed`` (KL below
    :data:`COLLAPSED_KL` nats and no active unit).
    """
    from vae_tutorial.evaluation.codes import encode
    from vae_tutorial.evaluation.latent_statistics import active_units, kl_per_dimension
    from vae_tutorial.evaluation.codes import reconstruct
    from vae_tutorial.losses import reconstruction_loss

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) < 2:
        raise ValueError(f"Argument `images` must have shape (N >= 2, S, S, 3). Received: shape {images.shape}")
    mu, log_var = encode(model, images)
    kl = kl_per_dimension(mu, log_var)
    reduction = model.reconstruction_reduction
    reconstructions = reconstruct(model, images)
    per_image = np.asarray(reconstruction_loss(images, reconstructions, reduction))
    active = active_units(mu)
    return {"images": len(images), "latent_dim": int(mu.shape[1]), "reconstruction_reduction": reduction,
            "reconstruction": float(per_image.mean()),
            "mse_per_pixel": float(np.mean(np.square(images - reconstructions))), "kl": float(kl.sum()),
            "kl_per_dimension": float(kl.mean()), "active_units": active,
            "collapsed": bool(kl.sum() < COLLAPSED_KL and active == 0)}


def describe(numbers: dict) -> str:
    """One line for a person: the two terms, the KL per dimension, the active units, and a warning if due."""
    error = "per-pixel mean" if numbers["reconstruction_reduction"] == "mean" else "sum"
    line = (f"on {numbers['images']} images decoded from their mean codes, squared error ({error}) "
            f"{numbers['reconstruction']:.4g} per image (per-pixel MSE {numbers['mse_per_pixel']:.4f}) and KL "
            f"{numbers['kl']:.4g} nats per image ({numbers['kl_per_dimension']:.3g} per latent dimension, "
            f"{numbers['active_units']} of {numbers['latent_dim']} dimensions active)")
    if numbers["reconstruction_reduction"] == "mean":
        line += "; warning: the reconstruction term is a per-pixel mean, far smaller than the KL it is weighed against"
    if numbers["collapsed"]:
        line += "; warning: the posterior has collapsed (KL near 0, no active dimension): the decoder ignores z"
    return line
