"""Checkers for notebook 7, beyond the basics.
"""

import numpy as np

from vae_tutorial.course.exercises.common import (
    IMAGE_SHAPE,
    _call,
    _fmt,
    _not_attempted,
    _numpy,
    _passed,
    _same,
    _which,
)
from vae_tutorial.course.exercises.model_and_loss import _image_inputs
from vae_tutorial.course.verdicts import recorded


@recorded
def check_decoder_variance(fn):
    """``fn(x, x_hat) -> sigma2``: the variance σ² of a Gaussian decoder, shared by every value, that makes the
    data most likely: the mean over all images and values of (x - x_hat)², one number."""
    x, x_hat = _image_inputs()
    got = _call(fn, x, x_hat)
    if _not_attempted(fn, got):
        return
    got, squared = _numpy(got), (x.numpy() - x_hat.numpy()) ** 2
    if _same(got, squared.mean()):
        return _passed(fn, "σ² = the mean squared error over every value")
    hint = _which(got, [
        ("one σ² per image: σ² is shared by every image and value, so average over all of them",
         squared.mean(axis=(1, 2, 3))),
        ("that is σ, the standard deviation: σ² is the mean squared error itself", np.sqrt(squared.mean())),
        ("a sum: σ² is the mean of the squared errors over every value", squared.sum()),
        ("a sum per image: σ² is the mean of the squared errors over every value", squared.sum(axis=(1, 2, 3))),
        ("absolute errors: σ² is the mean of the squared errors", np.abs(x.numpy() - x_hat.numpy()).mean()),
        ("half the mean squared error: σ² is the mean squared error itself, no ½", squared.mean() / 2),
    ])
    raise AssertionError(hint or f"σ² is {_fmt(got)}, expected the mean squared error, {squared.mean():.4g}")


@recorded
def check_gaussian_nll(fn):
    """``fn(x, x_hat, sigma) -> nll``: -log N(x; x_hat, σ² I) per image, shape (batch,), for a float σ > 0:
    sum((x - x_hat)²) / (2σ²) + D·log σ + (D/2)·log 2π, with D the number of values in an image."""
    x, x_hat = _image_inputs()
    for sigma in (0.5, 2.0):
        got = _call(fn, x, x_hat, sigma)
        if _not_attempted(fn, got):
            return
        got = _numpy(got)
        sse, values = np.sum((x.numpy() - x_hat.numpy()) ** 2, axis=(1, 2, 3)), np.prod(IMAGE_SHAPE)
        constant = values * 0.5 * np.log(2 * np.pi)
        rest = values * np.log(sigma) + constant  # the terms without the squared error
        expected = sse / (2 * sigma**2) + rest
        if got.shape != expected.shape:
            raise AssertionError(f"shape {got.shape}: expected {expected.shape}, one NLL per image (sum over "
                                 "height, width and channels)")
        if _same(got, expected, rtol=1e-4):
            continue
        hint = _which(got, [
            ("the constant is missing: each value adds ½·log 2π", expected - constant),
            ("the log σ term is missing: each value adds log σ", expected - values * np.log(sigma)),
            ("log σ² where log σ belongs (½·log σ² = log σ)", expected + values * np.log(sigma)),
            ("the ½ is missing: the squared error is divided by 2σ²", rest + sse / sigma**2),
            ("the squared error is divided by 2σ where 2σ² belongs", rest + sse / (2 * sigma)),
            ("a mean over the values: the NLL of an image sums over its values", expected / values),
            ("the sign: that is the log-likelihood; the NLL is its negative", -expected),
        ])
        raise AssertionError(hint or f"with σ = {sigma}, the NLL per image is {_fmt(got)}, expected {_fmt(expected)}")
    _passed(fn, "sum((x - x_hat)²) / (2σ²) + D·log σ + (D/2)·log 2π per image")
