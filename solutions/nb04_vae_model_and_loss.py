"""Notebook 4, the VAE's loss and the mistakes tutorials make: the instructor's solutions."""

import keras
from keras import ops


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


def fixed_sample(mu, log_var):
    """The tutorial's sampling, fixed: the std is exp(log_var / 2), not exp(log_var)."""
    eps = keras.random.normal(ops.shape(mu))
    return mu + ops.exp(0.5 * log_var) * eps
