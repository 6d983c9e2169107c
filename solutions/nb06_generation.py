"""Notebook 6, generation: the instructor's solutions."""

import keras
import numpy as np


def my_generate(decoder, n=16, seed=0):
    """n new images, decoded from codes drawn from the prior N(0, I)."""
    latent_dim = decoder.input_shape[-1]
    z = keras.random.normal((n, latent_dim), seed=seed)
    return np.asarray(decoder(z))


def my_interpolate(decoder, z_a, z_b, steps=8):
    """steps images decoded from evenly spaced codes on the line from z_a to z_b, both included."""
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]  # (steps, 1)
    z = (1 - t) * z_a + t * z_b  # (steps, latent_dim)
    return np.asarray(decoder(z))
