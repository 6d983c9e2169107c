"""Checkers for notebook 5, training.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vae_tutorial.course.exercises.common import (
    SEED,
    _call,
    _fmt,
    _name,
    _not_attempted,
    _numpy,
    _passed,
    _same,
)
from vae_tutorial.course.verdicts import Mistake, recorded
from vae_tutorial.losses import vae_loss
from vae_tutorial.sampling import Sampling


def _adam_reference(w, g, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """One Adam step (Kingma and Ba, 2015, Algorithm 1): the new ``(w, m, v)``."""
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), m, v


@recorded
def check_adam_update(fn):
    """``fn(w, g, m, v, t, learning_rate, beta_1, beta_2, epsilon) -> (w, m, v)``: one Adam step at step ``t``
    (counted from 1) on NumPy arrays ``w`` (weights), ``g`` (their gradient), ``m`` and ``v`` (the moments)."""
    rng = np.random.default_rng(SEED)
    w, g = rng.normal(size=5), rng.normal(size=5)
    hyper = (0.01, 0.9, 0.999, 1e-7)
    for m, v, t in [(np.zeros(5), np.zeros(5), 1), (0.1 * rng.normal(size=5), 0.1 * rng.random(5), 3)]:
        got = _call(fn, w.copy(), g.copy(), m.copy(), v.copy(), t, *hyper)
        if _not_attempted(fn, got):
            return
        if not isinstance(got, (list, tuple)) or len(got) != 3:
            raise Mistake(f"{_name(fn)} must return three values, the new (w, m, v). It returned one "
                          f"{type(got).__name__}", hint="return the new weights and both new moments: return w, m, v")
        new_w, new_m, new_v = (_numpy(value) for value in got)
        expected_w, expected_m, expected_v = _adam_reference(w, g, m, v, t, *hyper)
        if not _same(new_m, expected_m):
            raise Mistake(f"at t={t}, the new first moment m is wrong",
                          hint="m is a running mean of the gradient: m = beta_1 * m + (1 - beta_1) * g")
        if not _same(new_v, expected_v):
            squared = "v = beta_2 * v + (1 - beta_2) * g**2, a running mean of the squared gradient"
            if _same(new_v, 0.999 * v + 0.001 * g):
                raise Mistake("the second moment v averages the gradient itself, not its square", hint=squared)
            raise Mistake(f"at t={t}, the new second moment v is wrong", hint=squared)
        if _same(new_w, expected_w):
            continue
        lr, beta_1, beta_2, epsilon = hyper
        step = "w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)"
        mistakes = [
            ("the step goes uphill: it moves the weights along the gradient, where the loss grows",
             f"step against the gradient: {step}", 2 * w - expected_w),
            (f"at t={t}, the step uses m and v as they are: the bias correction is missing",
             "m_hat = m / (1 - beta_1**t), v_hat = v / (1 - beta_2**t), and the step uses m_hat and v_hat",
             w - lr * expected_m / (np.sqrt(expected_v) + epsilon)),
            ("the step divides by v_hat without its square root, so its size depends on the gradient's scale",
             f"{step}: the square root turns a mean of squares back into the gradient's scale",
             w - lr * (expected_m / (1 - beta_1**t)) / (expected_v / (1 - beta_2**t) + epsilon)),
            ("the weights' step uses the old moments, those from before this gradient",
             "update m and v first, then take the step with the new ones",
             w - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + epsilon)),
        ]
        found = next(((message, hint) for message, hint, value in mistakes if _same(new_w, value)), None)
        if found:
            raise Mistake(found[0], hint=found[1])
        raise Mistake(f"at t={t}, the new w is {_fmt(new_w)}, expected {_fmt(expected_w)}",
                      hint=f"the bias-corrected moments, then the step {step}")
    _passed(fn, "m, v, their bias correction and the step")


class _SmallVAE(keras.Model):
    """A VAE small enough for a checker: images (8, 8, 3), one Dense layer each way, latent_dim 2.

    Like ``vae_tutorial.model.VAE``, it has ``encoder``, ``sampling`` and ``decoder``, and its call returns
    ``(x_hat, mu, log_var)``. Built after ``keras.utils.set_random_seed(SEED)``: the same weights every time.
    """

    def __init__(self):
        super().__init__(name="vae")
        keras.utils.set_random_seed(SEED)
        images = keras.Input((8, 8, 3))
        hidden = layers.Flatten()(images)
        self.encoder = keras.Model(images, [layers.Dense(2)(hidden), layers.Dense(2)(hidden)], name="encoder")
        self.sampling = Sampling(seed=SEED)
        z = keras.Input((2,))
        decoded = layers.Dense(8 * 8 * 3, activation="sigmoid")(z)
        self.decoder = keras.Model(z, layers.Reshape((8, 8, 3))(decoded), name="decoder")

    def call(self, x, training=False):
        mu, log_var = self.encoder(x, training=training)
        return self.decoder(self.sampling([mu, log_var]), training=training), mu, log_var


def _reference_step(model, x, learning_rate):
    """The loss parts before the step, and the change of each weight that one Adam step makes."""
    with tf.GradientTape() as tape:
        x_hat, mu, log_var = model(x, training=True)
        losses = vae_loss(x, x_hat, mu, log_var)
    gradients = [_numpy(g) for g in tape.gradient(losses["loss"], model.trainable_weights)]
    # Adam's first step, as keras.optimizers.Adam computes it (beta_2 = 0.999, epsilon = 1e-7)
    scale = math.sqrt(1 - 0.999)
    steps = [-learning_rate * scale * g / (scale * np.abs(g) + 1e-7) for g in gradients]
    return {name: float(value) for name, value in losses.items()}, steps


def _weights(model):
    return [_numpy(w).copy() for w in model.trainable_weights]


@recorded
def check_train_step(fn):
    """``fn(model, optimizer, x) -> loss``: one step of ``optimizer`` on the VAE loss for images ``x``.

    ``model`` is a small VAE whose call returns ``(x_hat, mu, log_var)``, as ``vae_tutorial.model.VAE``'s does,
    with ``encoder`` and ``decoder`` attributes; ``optimizer`` is a
    ``keras.optimizers.Adam``. The step returns the loss (a scalar, the batch mean) computed before the update.
    """
    x = np.random.default_rng(SEED).random((4, 8, 8, 3), dtype=np.float32)
    model, reference = _SmallVAE(), _SmallVAE()
    before = _weights(model)
    loss = _call(fn, model, keras.optimizers.Adam(1e-3), x)
    losses, expected = _reference_step(reference, x, 1e-3)
    step = [after - old for after, old in zip(_weights(model), before)]
    changed = [bool(np.any(s != 0)) for s in step]
    if not any(changed):
        if _not_attempted(fn, loss):
            return
        raise Mistake("the weights did not change: the step computes the loss but never updates the model",
                      hint="apply the gradients with the optimizer given: "
                           "optimizer.apply_gradients(zip(gradients, model.trainable_weights))")
    in_encoder = [any(w is e for e in model.encoder.trainable_weights) for w in model.trainable_weights]
    for part, inside in (("encoder", True), ("decoder", False)):
        if not any(c for c, e in zip(changed, in_encoder) if e == inside):
            raise Mistake(f"the {part}'s weights did not change: the step trains only part of the model",
                          hint="take the gradients of all the weights, model.trainable_weights, and apply them all")
    step, expected = np.concatenate([s.ravel() for s in step]), np.concatenate([e.ravel() for e in expected])
    cosine = step @ expected / (np.linalg.norm(step) * np.linalg.norm(expected))
    if cosine < -0.5:
        raise Mistake("the weights moved uphill: the step makes the loss larger",
                      hint="no minus sign on the loss or on the gradients: apply_gradients already steps against "
                           "them")
    if loss is None:
        raise Mistake(f"{_name(fn)} updates the weights but returns None; the step must return the loss",
                      hint="return the loss computed inside the tape, before the update")
    got = _numpy(loss)
    if got.shape != ():
        raise Mistake(f"the loss returned has shape {got.shape}: expected a scalar, one number for the batch",
                      hint="the loss is the batch mean of the per-image losses: ops.mean(...)")
    if not np.isclose(got, losses["loss"], rtol=1e-3):
        both = "loss = ops.mean(reconstruction_loss(x, x_hat) + kl_divergence(mu, log_var)), reconstruction + KL"
        mistakes = [
            ("the loss has no KL term", both, losses["reconstruction_loss"]),
            ("the loss has no reconstruction term", both, losses["kl_loss"]),
            ("the reconstruction term is a per-pixel mean",
             "sum the squared error over height, width and channels, as reconstruction_loss does",
             losses["reconstruction_loss"] / (8 * 8 * 3) + losses["kl_loss"]),
            ("the loss is summed over the batch", "take the batch mean of the per-image losses",
             len(x) * losses["loss"]),
        ]
        found = next(((message, hint) for message, hint, value in mistakes if _same(got, value)), None)
        if found:
            raise Mistake(found[0], hint=found[1])
        raise Mistake(f"the loss returned is {float(got):.4g}, expected {losses['loss']:.4g}",
                      hint="reconstruction + KL, the batch mean, computed before the update")
    ratio = np.linalg.norm(step) / np.linalg.norm(expected)
    if cosine < 0.9 or not 0.5 < ratio < 2:
        raise Mistake("the weights' change is not one step of the optimizer given on the loss",
                      hint="call optimizer.apply_gradients once, with the gradients of the loss")
    _passed(fn, "one Adam step on the VAE loss, returning the loss")


def _zero_weight_loss(x):
    """The loss of a VAE whose every weight is zero: mu = 0 and log_var = 0, so KL = 0; the decoder's output is
    sigmoid(0) = 0.5 at every pixel, so the reconstruction term is the batch mean of sum (x - 0.5)²."""
    return float(np.mean(np.sum((x - 0.5) ** 2, axis=(1, 2, 3))))


@recorded
def check_my_vae(fn):
    """``fn(image_size, latent_dim) -> model``: a new ``keras.Model`` whose call on images ``(B, image_size,
    image_size, 3)`` in [0, 1] returns ``(x_hat, mu, log_var)``: the decoded sample, the codes' means and
    log-variances ``(B, latent_dim)``; the decoder ends in a sigmoid, and z is sampled with the reparameterisation
    trick. Checked on 32×32 images with a latent size of 8: the shapes, the sampling, the gradients (every
    weight gets one), and the loss with every weight set to zero, which is known exactly."""
    size, latent = 32, 8
    x = np.random.default_rng(SEED).random((4, size, size, 3), dtype=np.float32)
    built = _call(fn, size, latent)
    if _not_attempted(fn, built):
        return
    if not isinstance(built, keras.Model):
        raise Mistake(f"{_name(fn)} must return a keras.Model. It returned a {type(built).__name__}",
                      hint="subclass keras.Model, build the encoder and decoder in __init__, and write call")
    model = built
    out = _call(lambda images: model(images, training=True), x)
    if not isinstance(out, (list, tuple)) or len(out) != 3:
        raise Mistake("the model's call must return three things, (x_hat, mu, log_var)",
                      hint="return the decoded sample, and the mean and log-variance the encoder gave")
    x_hat, mu, log_var = (_numpy(value) for value in out)
    for what, got, shape in (("x_hat", x_hat, x.shape), ("mu", mu, (4, latent)), ("log_var", log_var, (4, latent))):
        if got.shape != shape:
            raise Mistake(f"{what} has shape {got.shape}, expected {shape} for a batch of 4 images "
                          f"{size}×{size} and latent_dim={latent}",
                          hint="the encoder ends in two Dense(latent_dim) layers; the decoder's last layer has "
                               "3 channels at the image's size")
    if x_hat.min() < 0 or x_hat.max() > 1:
        raise Mistake("x_hat leaves [0, 1]: the images it should match are in [0, 1]",
                      hint="end the decoder with a sigmoid activation")
    again = _numpy(model(x, training=True)[0])
    if np.allclose(again, x_hat):
        raise Mistake("two calls on the same images decode the same x_hat: z is not sampled",
                      hint="decode z = mu + exp(0.5 * log_var) * epsilon, epsilon drawn anew each call "
                           "(the Sampling layer of notebook 2), not mu")
    with tf.GradientTape() as tape:
        x_hat_t, mu_t, log_var_t = model(x, training=True)
        loss = vae_loss(x, x_hat_t, mu_t, log_var_t)["loss"]
    weights = model.trainable_weights
    if not weights:
        raise Mistake("the model has no trainable weights", hint="create the layers in __init__ (self.encoder = ...)")
    gradients = tape.gradient(loss, weights)
    missing = [w.path for w, g in zip(weights, gradients) if g is None]
    if missing:
        raise Mistake(f"{len(missing)} of {len(weights)} weights get no gradient from the loss (first: "
                      f"{missing[0]})", hint="every layer you create must be used in call, on the way from x to "
                                             "x_hat, mu or log_var")
    # every weight set to zero: the loss is known exactly
    for w in model.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    x_hat, mu, log_var = (_numpy(value) for value in model(x, training=False))
    expected = _zero_weight_loss(x)
    if not (np.allclose(mu, 0) and np.allclose(log_var, 0)):
        raise Mistake("with every weight zero, mu or log_var is not zero: the encoder adds something that is "
                      "not a weight", hint="the encoder's outputs are layers of the model, Dense(latent_dim) each")
    if not np.allclose(x_hat, 0.5, atol=1e-5):
        raise Mistake(f"with every weight zero, x_hat is {float(x_hat.mean()):.3g} on average, not sigmoid(0) = 0.5",
                      hint="the decoder's last layer is a convolution (or Dense) with a sigmoid activation")
    got = float(vae_loss(x, x_hat, mu, log_var)["loss"])
    if not np.isclose(got, expected, rtol=1e-4):
        raise Mistake(f"with every weight zero the loss is {got:.4g}, expected {expected:.4g}")
    _passed(fn, f"(x_hat, mu, log_var) of the right shapes, z sampled, a gradient for each of its {len(weights)} "
                f"weights; with every weight zero, mu = log_var = 0 (KL = 0) and x_hat = 0.5, so the loss is "
                f"the batch mean of Σ(x − 0.5)² = {expected:.2f} for the check's 4 images")


def _package_step(model, optimizer, x):
    with tf.GradientTape() as tape:
        loss = vae_loss(x, *model(x, training=True))["loss"]
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights))
    return loss


def fit_my_vae(model, step, train_data, validation_data, epochs, learning_rate=1e-3, file=None):
    """Train ``model`` with ``step(model, optimizer, x)`` (exercise 2's train step) for ``epochs`` epochs of
    ``train_data``; returns ``{"loss": [...], "val_loss": [...]}``, the epoch means (the validation loss of each
    epoch's end, the model called with training=False). Prints a text progress bar and the seconds per
    epoch. One step on the first batch comes first, to see
    whether ``step`` is written (a scaffold returns None; then the package's step trains instead)."""
    import sys
    import time

    from tqdm import tqdm

    optimizer = keras.optimizers.Adam(learning_rate)
    first = step(model, optimizer, next(iter(train_data)))  # a step not written yet returns None and changes nothing
    if first is None or first is Ellipsis:
        print(f"{_name(step)} is not written yet: the package's step (vae_loss under a GradientTape) trains instead")
        step = _package_step
    history = {"loss": [], "val_loss": []}
    start = time.perf_counter()
    bar = tqdm(range(epochs), unit="epoch", file=file or sys.stdout, ncols=90)
    for _ in bar:
        losses = [float(_numpy(step(model, optimizer, x))) for x in train_data]
        val = [float(vae_loss(x, *model(x, training=False))["loss"]) for x in validation_data]
        history["loss"].append(float(np.mean(losses)))
        history["val_loss"].append(float(np.mean(val)))
        bar.set_postfix(loss=f"{history['loss'][-1]:.0f}", val_loss=f"{history['val_loss'][-1]:.0f}")
    bar.close()
    seconds = time.perf_counter() - start
    print(f"{epochs} epochs in {seconds:.0f} s: {seconds / epochs:.1f} s per epoch")
    return history
