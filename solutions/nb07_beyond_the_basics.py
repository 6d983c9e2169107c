"""Notebook 7, beyond the basics: the instructor's solutions."""

import math

from keras import ops


def my_decoder_variance(x, x_hat):
    """The σ² of a Gaussian decoder, one for every value, that makes the data most likely: the MSE."""
    return ops.mean(ops.square(x - x_hat))


def my_gaussian_nll(x, x_hat, sigma):
    """-log N(x; x_hat, σ² I) per image: shape (batch,)."""
    values = x.shape[1] * x.shape[2] * x.shape[3]  # D, the values in one image
    squared_error = ops.sum(ops.square(x - x_hat), axis=(1, 2, 3))
    return squared_error / (2 * sigma**2) + values * math.log(sigma) + values / 2 * math.log(2 * math.pi)
