"""Checkers for notebook 7, beyond the basics.

Each wrong answer raises a :class:`~vae_tutorial.course.verdicts.Mistake`: its message names the mistake without
giving the answer away; ``check_...(fn, hint=True)`` shows its hint, which says more.
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
    _which_mistake,
)
from vae_tutorial.course.exercises.model_and_loss import _image_inputs
from vae_tutorial.course.verdicts import Mistake, recorded


def _variance_mistakes(x, x_hat):
    """Each mistake (a :class:`Mistake`) paired with the σ² it computes."""
    error = x.numpy() - x_hat.numpy()
    squared = error**2
    return [
        (Mistake("one σ² per image: the decoder has one σ² for the whole batch",
                 "σ² is shared by every image and every value: reduce over all of them, not per image"),
         squared.mean(axis=(1, 2, 3))),
        (Mistake("that is a standard deviation (σ), not a variance (σ²)",
                 "the derivation ends at σ² itself; no square root"), np.sqrt(squared.mean())),
        (Mistake("a sum: it grows with the number of values and images",
                 "σ² is the variance of one value: divide the total by how many values it adds up"), squared.sum()),
        (Mistake("a sum per image: it grows with the number of values, and gives one number per image",
                 "σ² is the variance of one value, shared by the whole batch"), squared.sum(axis=(1, 2, 3))),
        (Mistake("absolute errors: a Gaussian's variance comes from squared errors",
                 "the derivation's S is a sum of (x - x̂)²"), np.abs(error).mean()),
        (Mistake("half of the right value: a factor too many",
                 "set the derivative D/(2σ²) - S/(2σ⁴) to zero and solve for σ²: the ½ cancels"), squared.mean() / 2),
    ]


@recorded
def check_decoder_variance(fn):
    """``fn(x, x_hat) -> sigma2``: for images ``x`` and reconstructions ``x_hat`` of shape (batch, H, W, C), the one
    σ² (a scalar, shared by every image and value) under which N(x; x_hat, σ² I) makes the batch most likely."""
    x, x_hat = _image_inputs()
    got = _call(fn, x, x_hat)
    if _not_attempted(fn, got):
        return
    got, squared = _numpy(got), (x.numpy() - x_hat.numpy()) ** 2
    if _same(got, squared.mean()):
        return _passed(fn, "σ² = the mean squared error over every value")
    raise _which_mistake(got, _variance_mistakes(x, x_hat)) or Mistake(
        f"σ² is {_fmt(got)}: not the value that makes these images most likely",
        "write the mean negative log-likelihood as a function of σ², set its derivative to zero, and solve")


def _nll_mistakes(x, x_hat, sigma):
    """Each mistake (a :class:`Mistake`) paired with the NLL per image it computes, for a float ``sigma``."""
    sse, values = np.sum((x.numpy() - x_hat.numpy()) ** 2, axis=(1, 2, 3)), np.prod(IMAGE_SHAPE)
    constant = values * 0.5 * np.log(2 * np.pi)
    rest = values * np.log(sigma) + constant  # the terms without the squared error
    expected = sse / (2 * sigma**2) + rest
    return [
        (Mistake("the normalising constant is missing (the term with π)",
                 "a Gaussian density has 1/√(2π σ²) for each value: each value adds ½·log 2π"), expected - constant),
        (Mistake("the log σ term is missing: the NLL must depend on σ even where x = x̂",
                 "the 1/σ in front of each value's density adds log σ per value"), expected - values * np.log(sigma)),
        (Mistake("log σ² where log σ belongs: the σ term is twice too large",
                 "-log(1/√(2πσ²)) = ½·log 2π + ½·log σ² = ½·log 2π + log σ"), expected + values * np.log(sigma)),
        (Mistake("the squared-error term is twice too large: the ½ is missing",
                 "the exponent of a Gaussian is -(x - x̂)²/(2σ²)"), rest + sse / sigma**2),
        (Mistake("the squared error is divided by 2σ where 2σ² belongs",
                 "the Gaussian's exponent divides by the variance, σ², not by σ"), rest + sse / (2 * sigma)),
        (Mistake("a mean over the values: the NLL of an image adds up the NLLs of its values",
                 "the values are independent given x̂, so their log-densities add: sum over height, width, channels"),
         expected / values),
        (Mistake("the sign: that is the log-likelihood, which is the negative of what is asked",
                 "-log N(...) is large when the fit is poor"), -expected),
    ]


@recorded
def check_gaussian_nll(fn):
    """``fn(x, x_hat, sigma) -> nll``: -log N(x; x_hat, σ² I) for each image of ``x`` (batch, H, W, C), given its
    reconstruction ``x_hat`` and a float ``sigma`` > 0 (the standard deviation of every value), constants included:
    shape (batch,). Checked with σ = 0.5 and σ = 2, so that each term shows."""
    x, x_hat = _image_inputs()
    for sigma in (0.5, 2.0):
        got = _call(fn, x, x_hat, sigma)
        if _not_attempted(fn, got):
            return
        got = _numpy(got)
        sse, values = np.sum((x.numpy() - x_hat.numpy()) ** 2, axis=(1, 2, 3)), np.prod(IMAGE_SHAPE)
        expected = sse / (2 * sigma**2) + values * np.log(sigma) + values * 0.5 * np.log(2 * np.pi)
        if got.shape != expected.shape:
            raise Mistake(f"shape {got.shape}: expected {expected.shape}, one NLL per image",
                          "reduce over height, width and channels only, not over the batch")
        if _same(got, expected, rtol=1e-4):
            continue
        raise _which_mistake(got, _nll_mistakes(x, x_hat, sigma)) or Mistake(
            f"with σ = {sigma}, the NLL per image is {_fmt(got)}: not -log N(x; x̂, σ² I)",
            "write the log of one Gaussian density of one value, then add it up over the values of an image")
    _passed(fn, "sum((x - x_hat)²) / (2σ²) + D·log σ + (D/2)·log 2π per image")
