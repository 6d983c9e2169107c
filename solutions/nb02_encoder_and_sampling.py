"""Notebook 2, the encoder and the sampling step: the instructor's solutions."""

import keras
from keras import layers, ops


def build_my_encoder(latent_dim):
    """Images (batch, 64, 64, 3) → [mu, log_var], each (batch, latent_dim)."""
    images = keras.Input(shape=(64, 64, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    mu = layers.Dense(latent_dim)(x)  # no activation: any real number
    log_var = layers.Dense(latent_dim)(x)  # no activation: variances below 1 need log_var < 0
    return keras.Model(images, [mu, log_var])


def my_sample(mu, log_var):
    """z = mu + exp(log_var / 2) * eps, eps ~ N(0, I): a draw from N(mu, exp(log_var)) that gradients pass."""
    eps = keras.random.normal(ops.shape(mu))
    return mu + ops.exp(0.5 * log_var) * eps
