"""New images from a trained VAE: :func:`generate` and :func:`interpolate`.

**Generation** decodes samples z ~ N(0, I) from the *prior*: new images that no input produced; or
samples of a Gaussian mixture fitted to the codes of the training images
(:mod:`vae_tutorial.generation.mixture`), which stay where the decoder was trained. It is not
reconstruction, which decodes the code of an existing image (:func:`vae_tutorial.evaluation.reconstruct`);
every figure says which it shows (:mod:`vae_tutorial.plots.images`).
"""

from __future__ import annotations

import numpy as np

from vae_tutorial.evaluation.codes import encode
from vae_tutorial.generation.mixture import sample_mixture
from vae_tutorial.prior import fixed_latents


def _decoder(model_or_decoder):
    return getattr(model_or_decoder, "decoder", model_or_decoder)


def generate(model_or_decoder, n: int = 16, seed: int = 0, temperature: float = 1.0, mixture=None) -> np.ndarray:
    """``n`` new images (n, 64, 64, 3) decoded from z ~ N(0, temperature² I), or from ``mixture``.

    ``mixture``: a fitted ``sklearn.mixture.GaussianMixture`` over the latent space (see
    :func:`fit_code_mixture`); each z is then drawn from it, its distance from the mean of its
    component scaled by ``temperature``. The same seed gives the same images either way.
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    decoder = _decoder(model_or_decoder)
    latent_dim = decoder.input_shape[-1]
    if mixture is None:
        z = fixed_latents(n, latent_dim, seed, temperature)
    else:
        z = sample_mixture(mixture, n, seed, temperature)
        if z.shape[1] != latent_dim:
            raise ValueError(f"Argument `mixture` must be fitted to codes of size {latent_dim}. "
                             f"Received: a mixture over {z.shape[1]} dimensions")
    return np.asarray(decoder.predict(z, verbose=0))


def interpolate(model, image_a, image_b, steps: int = 8) -> np.ndarray:
    """Decode ``steps`` points on the straight line between the encodings of two images."""
    mu, _ = encode(model, np.stack([image_a, image_b]))
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return np.asarray(model.decoder.predict((1 - t) * mu[0] + t * mu[1], verbose=0))
