"""The VAE loss: reconstruction error plus KL divergence, with an explicit reduction contract.

Per image:
    reconstruction = sum over height, width and channels of (x - x_hat)^2
    KL             = -1/2 * sum over latent dims of (1 + log_var - mu^2 - exp(log_var))
Both are then averaged over the batch, and loss = reconstruction + beta * KL (beta = 1: the ELBO).

Summing per image matters: a per-pixel *mean* squared error is 64·64·3 = 12 288 times
smaller, so next to a KL summed over 512 dimensions it is drowned out, the encoder
learns to ignore the image (KL → 0, "posterior collapse") and every output is the
average image. ``keras.losses.mean_squared_error`` averages over the last (channel)
axis and ``keras.losses.MeanSquaredError()`` over everything: neither is this sum.

The summed squared error is the negative log-likelihood of a Gaussian decoder
N(x; x_hat, σ² I) with σ² = ½, less its constant D/2 · log π (D = values per image):

    -log N(x; x_hat, σ² I) = D/2 · log(2π σ²) + sum (x - x_hat)^2 / (2σ²).

A *calibrated* decoder gives σ² another value (learned, or the batch's mean squared error);
its reconstruction term is this NLL less the same constant, so all three agree at σ² = ½.
"""

import math

from keras import ops

REDUCTIONS = ("sum", "mean")
LOG_PI = math.log(math.pi)  # the constant per value left out of every reconstruction term


def reconstruction_loss(x, x_hat, reduction="sum"):
    """Squared error per image, shape (batch,).

    ``reduction="sum"`` sums over height, width and channels (the negative log-likelihood
    of a Gaussian decoder with variance 1/2 per value, up to a constant). ``"mean"`` averages over
    them: the per-pixel mean that popular tutorials use, kept here to show its effect.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"Argument `reduction` must be one of {REDUCTIONS}. Received: reduction={reduction!r}")
    squared = ops.square(x - x_hat)
    if reduction == "sum":
        return ops.sum(squared, axis=(1, 2, 3))
    return ops.mean(squared, axis=(1, 2, 3))


def gaussian_nll(x, x_hat, log_variance):
    """-log N(x; x_hat, σ² I) per image, shape (batch,): D/2 · log(2π σ²) + Σ (x - x_hat)² / (2σ²).

    ``log_variance`` is log σ², a scalar (one σ for every value). The constant is included.
    """
    values = x.shape[1] * x.shape[2] * x.shape[3]
    squared = ops.sum(ops.square(x - x_hat), axis=(1, 2, 3))
    return 0.5 * values * (math.log(2.0 * math.pi) + log_variance) + squared / (2.0 * ops.exp(log_variance))


def optimal_log_variance(x, x_hat):
    """The log σ² that minimises the batch's mean ``gaussian_nll``: the log of the mean squared error per value.

    Setting the derivative in σ² to zero, -D/(2σ²) + Σ (x - x_hat)² / (2σ⁴) = 0, gives σ² = MSE.
    Its gradient is not stopped, as in Rybkin et al.'s code; it would change nothing: at the optimum
    the NLL's derivative in σ² is zero, so the gradient in x_hat is the same either way.
    """
    return ops.log(ops.mean(ops.square(x - x_hat)))


def kl_divergence(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, I)) per image, summed over latent dimensions: shape (batch,)."""
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


def vae_loss(x, x_hat, mu, log_var, reduction="sum", decoder_log_var=None, beta=1.0):
    """Batch-mean losses as a dict: ``loss``, ``reconstruction_loss``, ``kl_loss`` (scalars).

    ``decoder_log_var``: None for the squared error (σ² = ½); else log σ² of the Gaussian decoder,
    whose reconstruction term is ``gaussian_nll`` less D/2 · log π. ``loss`` weighs the KL by ``beta``.
    """
    if decoder_log_var is None:
        reconstruction = ops.mean(reconstruction_loss(x, x_hat, reduction))
    else:
        values = x.shape[1] * x.shape[2] * x.shape[3]
        reconstruction = ops.mean(gaussian_nll(x, x_hat, decoder_log_var)) - 0.5 * values * LOG_PI
    kl = ops.mean(kl_divergence(mu, log_var))
    return {"loss": reconstruction + beta * kl, "reconstruction_loss": reconstruction, "kl_loss": kl}
