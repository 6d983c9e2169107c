"""Notebook 4, the VAE's loss and the mistakes tutorials make: the instructor's solutions."""

import keras
from keras import layers, ops


def my_kl_divergence(mu, log_var):
    """KL(N(mu, exp(log_var)) ‖ N(0, I)) per image: shape (batch,)."""
    return -0.5 * ops.sum(1 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


def my_reconstruction_loss(x, x_hat):
    """Squared error summed over height, width and channels, per image: shape (batch,)."""
    return ops.sum(ops.square(x - x_hat), axis=(1, 2, 3))


def fixed_vae_loss(x, x_hat, mu, log_var):
    """The tutorial's loss, fixed: both terms summed per image (not averaged), then the batch mean."""
    reconstruction = ops.sum(ops.square(x - x_hat), axis=(1, 2, 3))  # was ops.mean over everything
    kl = -0.5 * ops.sum(1 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)  # was ops.mean
    return ops.mean(reconstruction + kl)


def build_fixed_encoder(latent_dim):
    """The tutorial's encoder, fixed: the log_var head has no activation (a ReLU kept log_var >= 0, so sigma >= 1)."""
    images = keras.Input(shape=(64, 64, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Dense(256, activation="relu")(layers.Flatten()(x))
    mu = layers.Dense(latent_dim)(x)
    log_var = layers.Dense(latent_dim)(x)  # was activation="relu"
    return keras.Model(images, [mu, log_var])
