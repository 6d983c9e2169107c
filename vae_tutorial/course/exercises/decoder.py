"""Checkers for notebook 3, the decoder.
"""

import math

import keras
import numpy as np
from keras import layers

from vae_tutorial.course.exercises.common import IMAGE_SHAPE, SEED, _call, _model, _not_attempted, _numpy, _passed
from vae_tutorial.course.verdicts import Mistake, recorded


@recorded
def check_decoder(build):
    """``build(latent_dim) -> keras.Model``: codes (batch, latent_dim) → images (batch, 64, 64, 3) in [0, 1]."""
    keras.utils.set_random_seed(SEED)
    model = _call(build, 3)
    if _not_attempted(build, model):
        return
    model = _model(build, model)
    z = np.random.default_rng(SEED).normal(size=(4, 3)).astype(np.float32)
    z[2:] *= 100.0  # large codes: an output layer with no sigmoid leaves [0, 1] at once
    images = _call(model, z)
    if isinstance(images, (list, tuple)):
        raise AssertionError(f"the decoder returned {len(images)} outputs: expected one tensor of images")
    images = _numpy(images)
    if images.shape != (4, *IMAGE_SHAPE):
        raise AssertionError(f"with latent_dim=3, 4 codes gave images of shape {images.shape}: expected "
                             f"{(4, *IMAGE_SHAPE)}")
    if np.isnan(images).any():
        raise AssertionError("the images hold NaN")
    if images.min() < 0.0 or images.max() > 1.0:
        raise Mistake(f"pixel values from {images.min():.3g} to {images.max():.3g}, outside the range [0, 1] of images",
                      "the last layer must squash every value into (0, 1): end the decoder with a sigmoid")
    _passed(build, "images (batch, 64, 64, 3) in [0, 1]")


def _transposed_output_size(size, kernel_size, strides, padding):
    layer = layers.Conv2DTranspose(1, kernel_size, strides=strides, padding=padding)
    return layer.compute_output_shape((1, size, size, 1))[1]


@recorded
def check_upsampled_size(fn):
    """``fn(size, kernel_size, strides, padding) -> int``: the side of Conv2DTranspose's output for a square input.

    ``padding`` is ``"same"`` or ``"valid"``; the cases checked have ``kernel_size >= strides``.
    """
    cases = [(16, 3, 2, "same"), (32, 3, 1, "same"), (5, 3, 3, "same"), (8, 3, 2, "valid"), (7, 5, 1, "valid"),
             (4, 4, 2, "valid")]
    for size, kernel, stride, padding in cases:
        got = _call(fn, size, kernel, stride, padding)
        if _not_attempted(fn, got):
            return
        expected = _transposed_output_size(size, kernel, stride, padding)
        if got == expected:
            continue
        case = f"size={size}, kernel_size={kernel}, strides={stride}, padding={padding!r}"
        if got == (math.ceil(size / stride) if padding == "same" else (size - kernel) // stride + 1):
            raise AssertionError(f"{case}: {got} is a Conv2D's output size; a transposed convolution multiplies the "
                                 "size by the stride")
        if padding == "valid" and got == size * stride:
            raise Mistake(f"{case}: {got}; with padding='valid' the last copy of the kernel overhangs",
                          "input cell i paints output cells i·s to i·s + k - 1: where does the last one end?")
        if padding == "same" and got == (size - 1) * stride + kernel:
            raise Mistake(f"{case}: {got} is the 'valid' size; padding='same' trims it",
                          "'same' trims the output to a whole multiple of the input's size")
        raise AssertionError(f"{case}: got {got!r}, expected {expected}")
    _passed(fn, "the output size for 'same' and 'valid' padding")


@recorded
def check_find_the_bug_decoder(build):
    """``build(latent_dim) -> keras.Model``, the tutorial's decoder fixed: the contract of :func:`check_decoder`,
    images (batch, 64, 64, 3) in [0, 1], with the tutorial's mistakes and the usual wrong fixes named first."""
    keras.utils.set_random_seed(SEED)
    model = _call(build, 3)
    if model is not None and model is not Ellipsis and isinstance(model, keras.Model):
        _diagnose_decoder(model)
    check_decoder(build)


def _diagnose_decoder(model):
    z = np.random.default_rng(SEED).normal(size=(4, 3)).astype(np.float32)  # ordinary codes
    images = _call(model, z)
    if isinstance(images, (list, tuple)):
        return  # check_decoder names it
    images = _numpy(images)
    if images.ndim == 4 and images.shape[-1] != 3:
        raise Mistake(f"the images have {images.shape[-1]} channel{'s' * (images.shape[-1] != 1)}: the tutorial drew "
                      "grey digits", "an emoji has a red, a green and a blue value per pixel: the last layer makes "
                      "3 channels")
    if images.ndim != 4 or np.isnan(images).any():
        return
    if images.min() < 0.0 or images.max() > 1.0:
        raise Mistake(f"pixel values from {images.min():.3g} to {images.max():.3g}: the output is still not kept in "
                      "the range of images", "end the decoder with a function that maps every real number into (0, 1)")
    stuck = float(np.mean((images == 0.0) | (images == 1.0)))
    if stuck > 0.01:
        raise Mistake(f"{stuck:.0%} of the pixels are exactly 0 or 1 for ordinary codes: the output is cut off "
                      "(a clip or a ReLU), and no gradient flows through a cut-off pixel",
                      "a sigmoid keeps every value in (0, 1) and still has a gradient everywhere")
