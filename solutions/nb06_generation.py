"""Notebook 6, generation: the instructor's solutions."""

import keras
import numpy as np


def my_generate(decoder, n=16, seed=0):
    """New images from the prior.

    decoder: a Keras model, codes (batch, latent_dim) -> images (batch, 64, 64, 3); latent_dim is
        decoder.input_shape[-1].
    n: how many images. seed: an int; the same seed gives the same images, another seed other images.
    Returns: a NumPy array (n, 64, 64, 3), one image for each code drawn from the prior N(0, I).
    """
    latent_dim = decoder.input_shape[-1]
    z = keras.random.normal((n, latent_dim), seed=seed)
    return np.asarray(decoder(z))


def my_interpolate(decoder, z_a, z_b, steps=8):
    """A walk between two codes.

    decoder: a Keras model, codes (batch, latent_dim) -> images (batch, 64, 64, 3).
    z_a, z_b: two codes, each a NumPy array (latent_dim,).
    steps: how many images, at least 2.
    Returns: a NumPy array (steps, 64, 64, 3): the first image decoded from z_a, the last from z_b, the others from
        codes evenly spaced on the straight line between them.
    """
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]  # (steps, 1)
    z = (1 - t) * z_a + t * z_b  # (steps, latent_dim)
    return np.asarray(decoder(z))
