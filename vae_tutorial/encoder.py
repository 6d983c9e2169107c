"""The encoder q(z | x): an image in, the mean and log-variance of a Gaussian over z out.

    image                                   (64, 64, 3)
    → Conv2D 32 filters, 3×3, stride 2, ReLU  (32, 32, 32)
    → Conv2D 64 filters, 3×3, stride 2, ReLU  (16, 16, 64)
    → Flatten                               (16384,)
    → Dense 256, ReLU                       (256,)
    → Dense latent_dim: mu                  (latent_dim,)
    → Dense latent_dim: log_var             (latent_dim,)

The two heads have no activation: a mean can be any real number, and so can the log of a variance.
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


def build_encoder(latent_dim=512, image_size=64, hidden_units=256, name="encoder"):
    """A functional Keras model: images (batch, S, S, 3) → ``[mu, log_var]``, each (batch, latent_dim)."""
    check_sizes(latent_dim, image_size)
    images = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv_1")(images)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden_units, activation="relu", name="dense")(x)
    mu = layers.Dense(latent_dim, name="mu")(x)
    log_var = layers.Dense(latent_dim, name="log_var")(x)
    return keras.Model(images, [mu, log_var], name=name)
