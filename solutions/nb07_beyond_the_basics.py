"""Notebook 7, beyond the basics: the instructor's solutions."""

import math

from keras import ops


def my_decoder_variance(x, x_hat):
    """The variance of a Gaussian decoder N(x; x_hat, σ² I) that makes this batch most likely: the MSE.

    x, x_hat: images and their reconstructions, (batch, height, width, channels). Returns one number, the σ²
    shared by every image and every value.
    """
    return ops.mean(ops.square(x - x_hat))


def my_gaussian_nll(x, x_hat, sigma):
    """The negative log-likelihood of each image under a Gaussian decoder, normalising constants included.

    x, x_hat: images and their reconstructions, (batch, height, width, channels); sigma: a float > 0, the
    standard deviation of every value. Returns -log N(x; x_hat, σ² I) for each image, shape (batch,).
    """
    values = x.shape[1] * x.shape[2] * x.shape[3]  # D, the values in one image
    squared_error = ops.sum(ops.square(x - x_hat), axis=(1, 2, 3))
    return squared_error / (2 * sigma**2) + values * math.log(sigma) + values / 2 * math.log(2 * math.pi)
