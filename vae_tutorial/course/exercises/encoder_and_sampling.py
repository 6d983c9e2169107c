"""Checkers for notebook 2, the encoder and the sampling step.
"""

import keras
import numpy as np
import tensorflow as tf

from vae_tutorial.course.exercises.common import (
    IMAGE_SHAPE,
    SEED,
    _call,
    _fmt,
    _has_gradient,
    _model,
    _not_attempted,
    _numpy,
    _output_layer,
    _passed,
)
from vae_tutorial.course.verdicts import Mistake, recorded


@recorded
def check_encoder(build):
    """``build(latent_dim) -> keras.Model``: images (batch, 64, 64, 3) → ``[mu, log_var]``, each of shape
    (batch, latent_dim)."""
    keras.utils.set_random_seed(SEED)
    model = _call(build, 3)
    if _not_attempted(build, model):
        return
    model = _model(build, model)
    images = np.random.default_rng(SEED).random((8, *IMAGE_SHAPE), dtype=np.float32)
    outputs = _call(model, images)
    if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
        count = f"{len(outputs)} outputs" if isinstance(outputs, (list, tuple)) else "one tensor"
        raise AssertionError(f"the encoder returned {count}: expected 2 outputs, [mu, log_var]")
    values = {"mu": _numpy(outputs[0]), "log_var": _numpy(outputs[1])}
    for name, value in values.items():
        if value.shape != (8, 3):
            raise AssertionError(f"with latent_dim=3, {name} has shape {value.shape} for 8 images: expected (8, 3), "
                                 "(batch, latent_dim)")
    if np.allclose(values["mu"], values["log_var"]):
        raise Mistake("mu and log_var are equal: one head gives both", "give each its own Dense(latent_dim) head")
    symbolic = getattr(model, "outputs", None) or []
    for name, output in zip(values, symbolic):
        activation = getattr(_output_layer(model, output), "activation", None)
        if activation is not None and activation is not keras.activations.linear:
            raise Mistake(f"the {name} head has activation {activation.__name__!r}, which limits its range: "
                          f"{name} cannot be every real number",
                          "any real number is a valid mu or log_var, so give the heads no activation")
    for name, value in values.items():
        if value.min() >= 0 or value.max() <= 0:
            raise Mistake(f"{name} is never {'negative' if value.min() >= 0 else 'positive'}: its head does not reach "
                          "every real number", "give the head no activation, and apply nothing (exp, softplus, abs) "
                          "after it")
    _passed(build, "[mu, log_var], each (batch, latent_dim), with linear heads")


def _sampling_inputs():
    """4000 rows of the same four Gaussians: standard deviations 2, 0.5, 3 and 1."""
    mu = np.tile(np.array([0.5, -1.0, 2.0, 0.0], np.float32), (4000, 1))
    log_var = np.tile(np.log(np.array([4.0, 0.25, 9.0, 1.0], np.float32)), (4000, 1))
    return tf.constant(mu), tf.constant(log_var)


@recorded
def check_sampling(fn):
    """``fn(mu, log_var) -> z``: a draw from N(mu, exp(log_var)) through which gradients reach mu and log_var.

    ``mu`` and ``log_var`` are float32 tensors of shape (batch, latent_dim); so must ``z`` be.
    """
    keras.utils.set_random_seed(SEED)
    mu, log_var = _sampling_inputs()
    with tf.GradientTape() as tape:
        tape.watch([mu, log_var])
        z_tensor = _call(fn, mu, log_var)
    if _not_attempted(fn, z_tensor):
        return
    z = _numpy(z_tensor)
    if z.shape != tuple(mu.shape):
        raise AssertionError(f"z has shape {z.shape} for mu of shape {tuple(mu.shape)}: expected the shape of "
                             "mu, (batch, latent_dim)")
    if np.isnan(z).any():
        raise Mistake("z holds NaN for some log_var (log_var can be negative)",
                      "the std is exp(0.5 * log_var), defined for every real log_var; a square root or a log of "
                      "log_var is not")
    if np.allclose(z, mu):
        raise Mistake("z equals mu: there is no noise", "return mu + std * eps with eps ~ N(0, I)")
    if np.allclose(_numpy(_call(fn, mu, log_var)), z):
        raise Mistake("two calls returned the same z: the noise does not change from call to call",
                      "draw new noise on every call (no int seed in keras.random.normal, no eps made once outside "
                      "the function)")
    noise = z - mu.numpy()
    if np.allclose(noise, noise[0]):
        raise Mistake("every row of the batch got the same noise", "draw eps with the shape of mu, ops.shape(mu)")
    if np.corrcoef(noise[:, 0], noise[:, 1])[0, 1] > 0.9:
        raise Mistake("every latent dimension got the same noise", "draw eps with the shape of mu, ops.shape(mu)")
    std = np.exp(0.5 * log_var.numpy()[0])
    mean, spread = z.mean(axis=0), z.std(axis=0)
    if np.any(np.abs(mean - mu.numpy()[0]) > 0.15 * std):
        raise Mistake(f"the mean of z is {_fmt(mean)} where mu is {_fmt(mu.numpy()[0])}",
                      "z = mu + std * eps, with eps of mean 0")
    if not np.all(np.abs(spread - std) < 0.1 * std):
        raise _spread_mistake(spread, std)
    for name, reached in zip(("mu", "log_var"), _has_gradient(tape, z_tensor, [mu, log_var])):
        if not reached:
            raise Mistake(f"no gradient reaches {name}", "draw eps with keras.random.normal and compute "
                          "mu + ops.exp(0.5 * log_var) * eps with keras.ops (not NumPy, no stop_gradient)")
    compiled = tf.function(fn, autograph=False)  # as Keras compiles a layer's call in fit
    if np.allclose(_numpy(_call(compiled, mu, log_var)), _numpy(_call(compiled, mu, log_var))):
        raise Mistake("under tf.function (as in model.fit) z is the same on every call",
                      "a NumPy or Python draw runs once, when the function is traced; draw eps with "
                      "keras.random.normal")
    _passed(fn, "z ~ N(mu, exp(log_var)), and gradients reach mu and log_var")


def _spread_mistake(spread, std):
    """The :class:`Mistake` that the standard deviation ``spread`` of the draws shows, where ``std`` was right."""
    variance, log_var = std**2, np.log(std**2)
    seen = f"std of z {_fmt(spread)} where this log_var gives σ = {_fmt(std)}"
    for mistake, candidate in [
        (Mistake(f"the spread of z is σ², the variance, not the standard deviation σ: {seen}",
                 "σ = √σ² and log_var = log σ², so σ = exp(0.5 * log_var): the ½ is missing"), variance),
        (Mistake(f"the spread of z is half the variance, ½σ², not σ: {seen}",
                 "the ½ belongs inside the exponent: σ = exp(0.5 * log_var)"), 0.5 * variance),
        (Mistake(f"the spread of z is 1/σ: it shrinks where log_var grows ({seen})",
                 "a sign in the exponent: σ = exp(+0.5 * log_var)"), 1 / std),
        (Mistake(f"the spread of z is the size of log_var itself, |log_var|, not σ: {seen}",
                 "log_var is the log of the variance: σ = exp(0.5 * log_var)"), np.abs(log_var)),
        (Mistake(f"the spread of z is 1 in every dimension, whatever log_var is: {seen}",
                 "multiply eps by the std, exp(0.5 * log_var)"), np.ones_like(std)),
    ]:
        if np.all(np.abs(spread - candidate) < 0.1 * candidate + 0.02):
            return mistake
    return Mistake(f"the {seen}", "z = mu + std * eps with std = exp(0.5 * log_var) and eps ~ N(0, I)")
