"""Checkers for notebook 4, the loss and the mistakes tutorials make.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vae_tutorial.course.exercises.common import (
    IMAGE_SHAPE,
    SEED,
    _call,
    _fmt,
    _has_gradient,
    _not_attempted,
    _numpy,
    _output_layer,
    _passed,
    _same,
    _which,
    _which_mistake,
)
from vae_tutorial.course.exercises.encoder_and_sampling import check_encoder
from vae_tutorial.course.verdicts import Mistake, recorded
from vae_tutorial.losses import kl_divergence, reconstruction_loss, vae_loss


def _latent_inputs():
    rng = np.random.default_rng(SEED)
    mu = rng.normal(size=(4, 5)).astype(np.float32)
    log_var = rng.normal(size=(4, 5)).astype(np.float32)
    return tf.constant(mu), tf.constant(log_var)


def _image_inputs():
    rng = np.random.default_rng(SEED)
    x = rng.random((3, *IMAGE_SHAPE), dtype=np.float32)
    x_hat = rng.random((3, *IMAGE_SHAPE), dtype=np.float32)
    return tf.constant(x), tf.constant(x_hat)


def _kl_mistakes(mu, log_var):
    """Each mistake (a :class:`Mistake`: its message names it, its hint says more) with the KL per image it computes."""
    mu, log_var = mu.numpy(), log_var.numpy()
    var = np.exp(log_var)

    def kl(terms, reduce=np.sum):
        return reduce(terms, axis=-1)

    formula = "the last line of the derivation in this notebook"
    return [
        (Mistake("KL is averaged over the latent dimensions",
                 "the dimensions are independent, so their KLs add up: sum over axis=-1"),
         kl(-0.5 * (1 + log_var - mu**2 - var), np.mean)),
        (Mistake("KL has the wrong sign (a KL divergence is never negative)",
                 f"look at the sign of the factor in front of the sum in {formula}"),
         kl(0.5 * (1 + log_var - mu**2 - var))),
        (Mistake("KL is twice too large: a factor is missing",
                 f"{formula} starts with -½"),
         kl(-(1 + log_var - mu**2 - var))),
        (Mistake("a sign inside KL's sum is wrong: the variance term",
                 "KL must grow as σ² grows past 1: inside -½(...) the σ² term enters with a minus sign"),
         kl(-0.5 * (1 + log_var - mu**2 + var))),
        (Mistake("a sign inside KL's sum is wrong: the mean term",
                 "KL must grow as μ moves away from 0: inside -½(...) the μ² term enters with a minus sign"),
         kl(-0.5 * (1 + log_var + mu**2 - var))),
        (Mistake("KL uses the standard deviation where the variance belongs",
                 "exp(log_var) is σ², the variance; exp(0.5 * log_var) is σ"),
         kl(-0.5 * (1 + log_var - mu**2 - np.sqrt(var)))),
    ]


@recorded
def check_kl_divergence(fn):
    """``fn(mu, log_var) -> kl``: KL(N(mu, exp(log_var)) ‖ N(0, I)) per image, shape (batch,)."""
    mu, log_var = _latent_inputs()
    with tf.GradientTape() as tape:
        tape.watch([mu, log_var])
        kl_tensor = _call(fn, mu, log_var)
    if _not_attempted(fn, kl_tensor):
        return
    got, expected = _numpy(kl_tensor), _numpy(kl_divergence(mu, log_var))
    if got.shape == () and np.isclose(got, expected.mean(), rtol=1e-3):
        raise Mistake("one number for the whole batch; the contract says one KL per image, shape (batch,)",
                      "do not average over the batch here: vae_loss takes the batch mean")
    if got.shape == tuple(mu.shape):
        raise Mistake(f"one value per latent dimension, shape {got.shape}; the contract says one KL per image",
                      "the KL of independent dimensions is the sum of theirs: sum over axis=-1")
    if got.shape != expected.shape:
        raise Mistake(f"shape {got.shape} for mu of shape {tuple(mu.shape)}; the contract says {expected.shape}, "
                      "one KL per image", "sum over the latent dimensions only, axis=-1")
    if not _same(got, expected):
        raise _which_mistake(got, _kl_mistakes(mu, log_var)) or Mistake(
            f"KL per image is {_fmt(got)}, expected {_fmt(expected)}",
            "compare each term with the last line of the derivation in this notebook: -½ Σ_j (1 + log σ_j² - μ_j² - σ_j²)")
    if not all(_has_gradient(tape, kl_tensor, [mu, log_var])):
        raise AssertionError("no gradient reaches mu and log_var: compute KL with keras.ops (not NumPy)")
    _passed(fn, "KL per image, summed over the latent dimensions")


def _reconstruction_mistakes(x, x_hat):
    """Each mistake (a :class:`Mistake`: its message names it, its hint says more) with the reconstruction loss per
    image it computes."""
    error = x.numpy() - x_hat.numpy()

    def per_image(values, reduce=np.sum):
        return reduce(values, axis=(1, 2, 3))

    return [
        (Mistake("the reconstruction term is a per-pixel mean, 12,288 times smaller than the summed squared error of "
                 "the image", "sum the squared errors over height, width and channels, axis=(1, 2, 3)"),
         per_image(error**2, np.mean)),
        (Mistake("the reconstruction term is a third of the summed squared error: a mean over the channels "
                 "(keras.losses.mean_squared_error takes one)", "sum over the channels too"),
         per_image(error**2) / error.shape[-1]),
        (Mistake("the reconstruction term uses the absolute error", "square the differences, (x - x_hat)²"),
         per_image(np.abs(error))),
        (Mistake("the reconstruction term has a square root too many",
                 "the loss is the sum of squared errors itself, no square root"), np.sqrt(per_image(error**2))),
        (Mistake("the reconstruction term is half the summed squared error",
                 "the loss is the sum of squared errors itself, no ½"), per_image(0.5 * error**2)),
    ]


@recorded
def check_reconstruction_loss(fn):
    """``fn(x, x_hat) -> loss``: squared error summed over height, width and channels, per image: shape (batch,)."""
    x, x_hat = _image_inputs()
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        loss_tensor = _call(fn, x, x_hat)
    if _not_attempted(fn, loss_tensor):
        return
    got, expected = _numpy(loss_tensor), _numpy(reconstruction_loss(x, x_hat))
    values = int(np.prod(IMAGE_SHAPE))
    hint = _which(got, [
        ("the mean over every value and image (like keras.losses.MeanSquaredError()): return one sum per image",
         expected.mean() / values),
        ("one number for the whole batch (its mean): return one sum per image, shape (batch,)", expected.mean()),
        ("one number for the whole batch (its sum): return one sum per image, shape (batch,)", expected.sum()),
    ])
    if hint:
        raise AssertionError(hint)
    if got.shape == tuple(x.shape[:3]):
        raise Mistake(f"shape {got.shape}: a mean over the channels only (as keras.losses.mean_squared_error "
                      "takes); the contract says one number per image",
                      "sum over height, width and channels, axis=(1, 2, 3)")
    if got.shape != expected.shape:
        raise Mistake(f"shape {got.shape} for images of shape {tuple(x.shape)}; the contract says {expected.shape}, "
                      "one number per image", "sum over height, width and channels, axis=(1, 2, 3)")
    if not _same(got, expected):
        raise _which_mistake(got, _reconstruction_mistakes(x, x_hat)) or Mistake(
            f"the loss per image is {_fmt(got)}, expected {_fmt(expected)}",
            "square each difference x - x_hat, then sum over height, width and channels, axis=(1, 2, 3)")
    if not _has_gradient(tape, loss_tensor, [x_hat])[0]:
        raise AssertionError("no gradient reaches x_hat: compute the loss with keras.ops (not NumPy)")
    _passed(fn, "squared error summed per image")


@recorded
def check_find_the_bug_loss(fn):
    """``fn(x, x_hat, mu, log_var) -> loss``: the VAE loss, a scalar: the batch mean of the summed squared error
    plus the KL summed over latent dimensions."""
    x, x_hat = _image_inputs()
    mu, log_var = _latent_inputs()
    mu, log_var = mu[:3], log_var[:3]  # the batch of the images
    zeros = tf.zeros_like(mu)
    with tf.GradientTape() as tape:
        tape.watch([x_hat, mu, log_var])
        only_reconstruction = _call(fn, x, x_hat, zeros, zeros)  # KL(N(0, I) ‖ N(0, I)) = 0
        if _not_attempted(fn, only_reconstruction):
            return
        only_kl = _call(fn, x, x, mu, log_var)  # no reconstruction error
        loss_tensor = _call(fn, x, x_hat, mu, log_var)
    got = _numpy(only_reconstruction)
    if got.shape != ():
        raise AssertionError(f"the loss has shape {got.shape}: return one number, the batch mean")
    expected = _numpy(ops.mean(reconstruction_loss(x, x_hat)))
    if not _same(got, expected):
        raise _which_mistake(got, [(mistake, value.mean()) for mistake, value in _reconstruction_mistakes(x, x_hat)]
                             + [(Mistake("the loss is summed over the batch: 3 times too large for a batch of 3",
                                         "take the mean over the batch"), 3 * expected)]) or Mistake(
            f"with KL = 0 the loss is {got:.4g}, expected the batch mean of the summed squared error, {expected:.4g}",
            "sum the squared errors of each image over axis=(1, 2, 3), then take the mean over the batch")
    got, expected = _numpy(only_kl), _numpy(ops.mean(kl_divergence(mu, log_var)))
    if not _same(got, expected):
        raise _which_mistake(got, [(mistake, value.mean()) for mistake, value in _kl_mistakes(mu, log_var)] + [
            (Mistake("there is no KL term", "the loss is reconstruction + KL"), 0.0),
        ]) or Mistake(f"with no reconstruction error the loss is {got:.4g}, expected the batch mean of the KL, "
                      f"{expected:.4g}")
    expected = _numpy(vae_loss(x, x_hat, mu, log_var)["loss"])
    if not _same(_numpy(loss_tensor), expected):
        raise AssertionError(f"the loss is {_numpy(loss_tensor):.4g}, expected reconstruction + KL = {expected:.4g}")
    if not all(_has_gradient(tape, loss_tensor, [x_hat, mu, log_var])):
        raise AssertionError("no gradient reaches x_hat, mu and log_var: compute the loss with keras.ops (not NumPy)")
    _passed(fn, "batch mean of (summed squared error + KL summed over latent dimensions)")


_NEVER_NEGATIVE = {"relu", "softplus", "exponential", "sigmoid", "hard_sigmoid", "relu6", "elu", "selu", "abs"}


@recorded
def check_find_the_bug_encoder(build):
    """``build(latent_dim) -> keras.Model``, the tutorial's encoder fixed: images (batch, 64, 64, 3) →
    ``[mu, log_var]``, each head able to give any real number (the contract of :func:`check_encoder`)."""
    keras.utils.set_random_seed(SEED)
    model = _call(build, 3)
    if model is not None and model is not Ellipsis and isinstance(model, keras.Model):
        _diagnose_log_var(model)
    check_encoder(build)


def _diagnose_log_var(model):
    """The tutorial's mistake and the usual wrong fixes of it, named (before :func:`check_encoder`'s contract)."""
    images = np.random.default_rng(SEED).random((8, *IMAGE_SHAPE), dtype=np.float32)
    outputs = _call(model, images)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
        return  # check_encoder says what is wrong with the outputs
    why = ("σ² = exp(log_var) is positive for every real log_var already, so the head needs no activation: "
           "a log-variance may be any real number")
    symbolic = getattr(model, "outputs", None) or []
    for name, output in zip(("mu", "log_var"), symbolic):
        activation = getattr(_output_layer(model, output), "activation", None)
        activation_name = getattr(activation, "__name__", "")
        if activation is None or activation is keras.activations.linear:
            continue
        if name == "log_var" and activation_name in _NEVER_NEGATIVE:
            raise Mistake(f"the log_var head has activation {activation_name!r}: log_var is never negative, so "
                          "σ ≥ 1 and no posterior can be narrower than the prior", why)
        if name == "log_var":
            raise Mistake(f"the log_var head has activation {activation_name!r}, which bounds log_var, so σ² too",
                          why)
        raise Mistake(f"the mu head has activation {activation_name!r}, which limits the means the encoder can give",
                      "the bug is in the other head; mu may be any real number, so its head needs no activation")
    log_var = _numpy(outputs[1])
    if log_var.shape == (8, 3) and log_var.min() >= 0:
        raise Mistake("log_var is never negative: σ ≥ 1, so no posterior can be narrower than the prior", why)


