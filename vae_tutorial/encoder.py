"""The encoder q(z | x): an image in, the mean and log-variance of a Gaussian over z out.

(64, 64, 3) → Conv 32, stride 2 → (32, 32, 32) → Conv 64, stride 2 → (16, 16, 64)
→ flatten → Dense 256 → two heads: ``mu`` and ``log_var``, each (latent_dim,).
"""

import keras
from keras import layers


def check_sizes(latent_dim, image_size):
    """Raise a ValueError naming the argument when a size cannot work."""
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ValueError(f"Argument `latent_dim` must be a positive int. Received: latent_dim={latent_dim!r}")
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 4 or image_size % 4:
        raise ValueError(
            f"Argument `image_size` must be a positive multiple of 4. Received: image_size={image_size!r}"
        )


def compute_dtype(dtype=None):
    """The dtype a layer with dtype policy ``dtype`` computes in (``None``: Keras' global policy)."""
    return (keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()).compute_dtype


def build_encoder(latent_dim=512, image_size=64, hidden_units=256, name="encoder", dtype=None):
    """A functional Keras model: images (B, S, S, 3) → ``[mu, log_var]``, each (B, latent_dim).

    ``dtype``: the layers' dtype policy, e.g. ``"mixed_bfloat16"`` (default: Keras' global policy).
    The input and ``Flatten`` take the same policy, so under mixed precision no tensor is cast to
    float32 and back between layers.
    """
    check_sizes(latent_dim, image_size)
    images = keras.Input(shape=(image_size, image_size, 3), name="image", dtype=compute_dtype(dtype))
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv_1", dtype=dtype)(images)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv_2", dtype=dtype)(x)
    x = layers.Flatten(name="flatten", dtype=dtype)(x)
    x = layers.Dense(hidden_units, activation="relu", name="dense", dtype=dtype)(x)
    mu = layers.Dense(latent_dim, name="mu", dtype=dtype)(x)
    log_var = layers.Dense(latent_dim, name="log_var", dtype=dtype)(x)
    return keras.Model(images, [mu, log_var], name=name)
