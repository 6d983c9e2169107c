"""Notebook 3, the decoder: the instructor's solutions."""

import keras
from keras import layers


def build_my_decoder(latent_dim):
    """Codes (batch, latent_dim) → images (batch, 64, 64, 3) in [0, 1]."""
    z = keras.Input(shape=(latent_dim,))
    x = layers.Dense(256, activation="relu")(z)
    x = layers.Dense(16 * 16 * 64, activation="relu")(x)
    x = layers.Reshape((16, 16, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)  # (32, 32, 64)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)  # (64, 64, 32)
    images = layers.Conv2DTranspose(3, 3, padding="same", activation="sigmoid")(x)  # (64, 64, 3) in [0, 1]
    return keras.Model(z, images)


def my_upsampled_size(size, kernel_size, strides, padding):
    """The side of a Conv2DTranspose's output for a square input of side ``size`` (kernel_size >= strides)."""
    if padding == "same":
        return size * strides
    return (size - 1) * strides + kernel_size


def build_fixed_decoder(latent_dim):
    """The tutorial's decoder, fixed: three channels, and a sigmoid so that pixels lie in [0, 1]."""
    z = keras.Input(shape=(latent_dim,))
    x = layers.Dense(16 * 16 * 64, activation="relu")(z)
    x = layers.Reshape((16, 16, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    images = layers.Conv2DTranspose(3, 3, padding="same", activation="sigmoid")(x)  # was 1 channel, no activation
    return keras.Model(z, images)
