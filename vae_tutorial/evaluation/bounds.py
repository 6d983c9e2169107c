"""Evaluating a VAE the way papers do: a held-out ELBO in nats and bits per dimension, and the
importance-weighted bound on log p(x).

**The decoder is a Gaussian.** p(x | z) = N(x; x̂(z), σ² I) over the D = 64·64·3 values of an
image, so

    -log p(x | z) = D/2 · log(2πσ²) + Σ (x - x̂)² / (2σ²).

The training loss sums squared errors: that is this negative log-likelihood with σ² = ½,
without its constant D/2 · log(2π · ½) = D/2 · log π. Here the constant is included, so the
numbers are log-densities that can be compared across models and with other papers' VAEs.

**The ELBO** (per image): log p(x) ≥ E_q[log p(x | z)] - KL(q(z | x) || p(z)). We estimate the
first term with K samples z_k ~ q(z | x) and compute the KL in closed form, as the loss does.

**The IWAE bound** (Burda, Grosse and Salakhutdinov, 2016): with the same K samples,

    log p(x) ≥ log (1/K) Σ_k w_k,   w_k = p(x | z_k) p(z_k) / q(z_k | x),

which equals the ELBO for K = 1 (with the KL estimated from the sample) and tightens towards
log p(x) as K grows. The weights are combined with a log-sum-exp in float64.

**Bits per dimension** = (nats per image) / (D · ln 2). The images are continuous values in
[0, 1], so these are *densities*: a log-density can exceed 0 and bits per dimension can be
negative. They are not comparable with bits per dimension reported for 8-bit data (values in
{0, ..., 255}, usually dequantised): the change of scale alone from [0, 1] to [0, 256) adds 8 bits
per dimension, and we evaluate at the pixel values without dequantisation.
"""

from __future__ import annotations

import math

import numpy as np

from vae_tutorial.evaluation.latent_statistics import active_units, kl_per_dimension
from vae_tutorial.losses import gaussian_nll

FIXED_VARIANCE = 0.5  # the decoder variance that summing squared errors implies


LOG_2PI = math.log(2.0 * math.pi)


def decoder_log_variance(model, data=None, seed: int = 0) -> float:
    """log σ² of the model's Gaussian decoder p(x | z) = N(x̂(z), σ² I), as the model was trained.

    This is the one place that reads the decoder variance from a model (its ``decoder_variance``):

    - ``"fixed"``, or a model without the attribute: σ² = ½ (trained on summed squared errors);
    - ``"learned"``: the model's trained weight ``decoder_log_var``, clipped as in training;
    - ``"optimal"``: the mean squared error per value between the images of ``data`` (an array or
      a batched ``tf.data`` pipeline, as for :func:`evaluate`) and their decodings of one
      z ~ q(z | x) each (noise from ``seed``): the σ² the training loss would use with these
      images as its batch, so the ELBO is evaluated at the σ² that maximises it for this data.

    Raises:
        ValueError: for ``"optimal"`` without ``data``, or a ``decoder_variance`` this version cannot read.
    """
    mode = getattr(model, "decoder_variance", "fixed")
    if mode == "fixed":  # the model's rule says None: the summed squared error, σ² = ½
        return math.log(FIXED_VARIANCE)
    if mode == "learned":
        return float(model.decoder_log_variance(None, None))  # the rule needs no images
    if mode != "optimal":
        raise ValueError(f"Argument `model` must have decoder_variance 'fixed', 'learned' or 'optimal'. "
                         f"Received: decoder_variance={mode!r}")
    if data is None:
        raise ValueError("Argument `data` must be given for a model with decoder_variance='optimal': "
                         "its σ² is the mean squared error of the images evaluated")
    rng = np.random.default_rng(seed)
    rms = []  # each image's root mean squared error per value
    for images in _image_batches(data, model.image_size):
        mu, log_var = (np.asarray(t, np.float64) for t in model.encode(images))
        z = mu + np.exp(0.5 * log_var) * rng.standard_normal(mu.shape)
        x_hat = np.asarray(model.decoder(z.astype("float32"), training=False), np.float64)
        rms.append(np.sqrt(np.mean(np.square(images - x_hat), axis=(1, 2, 3))))
    # The model's rule on the whole data at once, in float64: every image has as many values, so the mean square
    # of the images' RMS errors, as (N, 1, 1, 1) arrays against zeros, is the MSE per value of all the images.
    rms = np.concatenate(rms)[:, None, None, None]
    return float(model.decoder_log_variance(rms, np.zeros_like(rms)))


def gaussian_log_likelihood(x, x_hat, log_variance: float) -> np.ndarray:
    """log N(x; x̂, σ² I) summed over each image's values, with the normalising constant: (N,) float64.

    ``x`` and ``x_hat``: images (N, H, W, C). The loss's :func:`~vae_tutorial.losses.gaussian_nll`, negated,
    computed in float64.
    """
    x, x_hat = np.asarray(x, np.float64), np.asarray(x_hat, np.float64)
    return -np.asarray(gaussian_nll(x, x_hat, np.float64(log_variance)))


def log_importance_weights(model, images, noise, log_variance: float,
                           samples_per_step: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The two parts of log w_k = log p(x | z_k) + [log p(z_k) - log q(z_k | x)] for each image.

    Args:
        images: (B, S, S, 3) in [0, 1].
        noise: (B, K, latent_dim) standard normal ε; z_k = mu + exp(log_var / 2) · ε_k.
        log_variance: log σ² of the decoder.
        samples_per_step: how many z are decoded at once.

    Returns:
        ``(log_likelihood, log_ratio)``, each (B, K) float64: log p(x | z_k), and
        log p(z_k) - log q(z_k | x), whose mean over samples estimates -KL.
    """
    images, noise = np.asarray(images, "float32"), np.asarray(noise, np.float64)
    batch, k, latent_dim = noise.shape
    mu, log_var = (np.asarray(t, np.float64) for t in model.encode(images))
    z = mu[:, None] + np.exp(0.5 * log_var)[:, None] * noise  # (B, K, L)
    flat_z, image_of = z.reshape(batch * k, latent_dim).astype("float32"), np.repeat(np.arange(batch), k)
    log_likelihood = np.empty(batch * k)
    for start in range(0, batch * k, samples_per_step):
        rows = slice(start, start + samples_per_step)
        x_hat = np.asarray(model.decoder(flat_z[rows], training=False))
        log_likelihood[rows] = gaussian_log_likelihood(images[image_of[rows]], x_hat, log_variance)
    log_prior = -0.5 * np.sum(LOG_2PI + np.square(z), axis=-1)
    log_posterior = -0.5 * np.sum(LOG_2PI + log_var[:, None] + np.square(noise), axis=-1)
    return log_likelihood.reshape(batch, k), log_prior - log_posterior


def iwae_bound(log_weights) -> np.ndarray:
    """log (1/K) Σ_k exp(log_weights[:, k]) for log weights (N, K): the IWAE bound per image (N,)."""
    import tensorflow as tf

    log_weights = np.asarray(log_weights, np.float64)
    return np.asarray(tf.math.reduce_logsumexp(log_weights, axis=1)) - math.log(log_weights.shape[1])


def _image_batches(data, image_size: int):
    """Yield float32 arrays (B, S, S, 3) from an array or a batched tf.data pipeline, checked."""
    import tensorflow as tf

    batches = data if isinstance(data, tf.data.Dataset) else [data]
    for batch in batches:
        if isinstance(batch, (tuple, list, dict)):
            raise ValueError("Argument `data` must yield batches of images, not tuples or dicts. "
                             f"Received: an element of type {type(batch).__name__}")
        batch = np.asarray(batch, "float32")
        if batch.ndim != 4 or batch.shape[1:] != (image_size, image_size, 3):
            raise ValueError(f"Argument `data` must hold images of shape (N, {image_size}, {image_size}, 3). "
                             f"Received: a batch of shape {batch.shape}")
        if batch.size and not (batch.min() >= 0.0 and batch.max() <= 1.0):  # also refuses NaN
            raise ValueError("Argument `data` must hold values in [0, 1]. "
                             f"Received: values from {batch.min()} to {batch.max()}")
        yield batch


def evaluate(model, data, k: int = 100, seed: int = 0, log_variance: float | None = None,
             samples_per_step: int = 256, progress: bool = False) -> dict:
    """The held-out ELBO, IWAE bound, reconstruction error and latent statistics of ``model``.

    The decoder is the Gaussian N(x̂(z), σ² I); σ² = ½ for a model trained on summed squared
    errors, whose loss is then -log p(x | z) less the constant D/2 · log π (D = S·S·3), which
    is included here. The images are continuous, so these are densities: see the module's
    notes on bits per dimension.

    Args:
        model: a :class:`vae_tutorial.model.VAE`.
        data: images as an array (N, S, S, 3) with values in [0, 1], or a batched ``tf.data``
            pipeline of such images; at least 2 images.
        k: the number of importance samples K per image (a positive int).
        seed: the noise of image i is block i of
            ``np.random.default_rng(seed).standard_normal((N, k, latent_dim))``, so the numbers
            do not depend on how ``data`` is batched, only on the order of its images.
        log_variance: log σ² of the Gaussian decoder; default :func:`decoder_log_variance` of
            ``model`` (for ``decoder_variance="optimal"``: of ``data``).
        samples_per_step: how many z are decoded at once (memory against speed).
        progress: show a progress bar (tqdm, on stderr).

    Returns:
        A dict of numbers, each a mean per image (log-probabilities in nats):
        ``negative_elbo`` = ``reconstruction`` + ``kl``; ``reconstruction`` (-E_q[log p(x | z)],
        normalising constant included, estimated with the K samples); ``kl`` (closed form);
        ``bits_per_dim`` (``negative_elbo`` / (D ln 2)); ``negative_iwae`` (the IWAE bound on
        -log p(x) with K samples); ``k``; ``mse_per_pixel`` (reconstructions decoded from the
        posterior mean); ``active_units`` (see :func:`vae_tutorial.evaluation.latent_statistics.active_units`);
        ``images`` (N); ``kl_per_dimension`` (a list of latent_dim numbers); ``decoder_log_variance``
        (the log σ² used).

    Raises:
        ValueError: for a ``k`` or ``samples_per_step`` that is not a positive int, for images of
            the wrong shape, values outside [0, 1], or fewer than 2 images.
    """
    from tqdm.auto import tqdm

    for name, value in (("k", k), ("samples_per_step", samples_per_step)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive int. Received: {name}={value!r}")
    if log_variance is None:
        log_variance = decoder_log_variance(model, data, seed)
    rng = np.random.default_rng(seed)
    images_per_step = max(1, samples_per_step // k)
    sums = {"log_likelihood": 0.0, "iwae": 0.0, "squared_error": 0.0}
    mus, log_vars, count = [], [], 0
    bar = tqdm(total=len(data) if isinstance(data, np.ndarray) and data.ndim else None, unit="image",
               desc=f"evaluating (K={k})", disable=not progress)
    for batch in _image_batches(data, model.image_size):
        for start in range(0, len(batch), images_per_step):
            images = batch[start:start + images_per_step]
            noise = rng.standard_normal((len(images), k, model.latent_dim))
            log_likelihood, log_ratio = log_importance_weights(model, images, noise, log_variance,
                                                              samples_per_step)
            sums["log_likelihood"] += log_likelihood.mean(axis=1).sum()
            sums["iwae"] += iwae_bound(log_likelihood + log_ratio).sum()
            mu, log_var = model.encode(images)
            mus.append(np.asarray(mu, np.float64))
            log_vars.append(np.asarray(log_var, np.float64))
            reconstruction = np.asarray(model.decoder(mu, training=False), np.float64)
            sums["squared_error"] += np.sum(np.square(images - reconstruction))
            count += len(images)
            bar.update(len(images))
    bar.close()
    if count < 2:
        raise ValueError(f"Argument `data` must hold at least 2 images. Received: {count} images")
    mu, log_var = np.concatenate(mus), np.concatenate(log_vars)
    kl = kl_per_dimension(mu, log_var)
    dims = model.image_size * model.image_size * 3
    reconstruction = -sums["log_likelihood"] / count
    negative_elbo = reconstruction + float(kl.sum())
    return {
        "negative_elbo": float(negative_elbo),
        "reconstruction": float(reconstruction),
        "kl": float(kl.sum()),
        "bits_per_dim": float(negative_elbo / (dims * math.log(2.0))),
        "negative_iwae": float(-sums["iwae"] / count),
        "k": int(k),
        "mse_per_pixel": float(sums["squared_error"] / (count * dims)),
        "active_units": active_units(mu),
        "images": count,
        "decoder_log_variance": float(log_variance),
        "kl_per_dimension": [float(v) for v in kl],
    }
