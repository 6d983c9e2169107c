"""The VAE loss: reconstruction error plus KL divergence, with an explicit reduction contract.

Per image:
    reconstruction = sum over height, width and channels of (x - x_hat)^2
    KL             = -1/2 * sum over latent dims of (1 + log_var - mu^2 - exp(log_var))
Both are then averaged over the batch, and loss = reconstruction + KL.

Summing per image matters: a per-pixel *mean* squared error is 64·64·3 = 12 288 times
smaller, so next to a KL summed over 512 dimensions it is drowned out, the encoder
learns to ignore the image (KL → 0, "posterior collapse") and every output is the
average image. ``keras.losses.mean_squared_error`` averages over the last (channel)
axis and ``keras.losses.MeanSquaredError()`` over everything: neither is this sum.
"""

from keras import ops

REDUCTIONS = ("sum", "mean")


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


def kl_divergence(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, I)) per image, summed over latent dimensions: shape (batch,)."""
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


def vae_loss(x, x_hat, mu, log_var, reduction="sum"):
    """Batch-mean losses as a dict: ``loss``, ``reconstruction_loss``, ``kl_loss`` (scalars)."""
    reconstruction = ops.mean(reconstruction_loss(x, x_hat, reduction))
    kl = ops.mean(kl_divergence(mu, log_var))
    return {"loss": reconstruction + kl, "reconstruction_loss": reconstruction, "kl_loss": kl}
