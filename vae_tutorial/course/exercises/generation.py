"""Checkers for notebook 6, generation.
"""

import keras
import numpy as np
from keras import layers

from vae_tutorial.course.exercises.common import IMAGE_SHAPE, SEED, _call, _fmt, _name, _not_attempted, _numpy, _passed
from vae_tutorial.course.verdicts import recorded

PROBE_LATENT_DIM = 4


def _probe_decoder():
    """A decoder whose images tell which code made them: image = sigmoid(z @ W), W known (see ``_codes_of``)."""
    kernel = np.random.default_rng(SEED).normal(0.0, 0.2, (PROBE_LATENT_DIM, int(np.prod(IMAGE_SHAPE))))
    z = keras.Input((PROBE_LATENT_DIM,), name="z")
    x = layers.Dense(kernel.shape[1], activation="sigmoid", use_bias=False,
                     kernel_initializer=keras.initializers.Constant(kernel))(z)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE)(x), name="decoder"), kernel


def _codes_of(images, kernel):
    """The codes z that the probe decoder turned into ``images`` (least squares on the logits)."""
    # 256 values of each image are plenty to find its 4 numbers
    p = np.clip(images.reshape(len(images), -1)[:, :256].astype(np.float64), 1e-6, 1 - 1e-6)
    return np.linalg.lstsq(kernel[:, :256].T, np.log(p / (1 - p)).T, rcond=None)[0].T


def _images(fn, got, count):
    images = _numpy(got)
    if images.shape != (count, *IMAGE_SHAPE):
        raise AssertionError(f"{_name(fn)} returned shape {images.shape}: expected {(count, *IMAGE_SHAPE)}")
    return images


@recorded
def check_generate(fn):
    """``fn(decoder, n, seed) -> images``: ``n`` images (n, 64, 64, 3) decoded from z ~ N(0, I), the prior;
    the same ``seed`` gives the same images. The decoder's latent size is ``decoder.input_shape[-1]``."""
    decoder, kernel = _probe_decoder()
    got = _call(fn, decoder, 500, 1)
    if _not_attempted(fn, got):
        return
    images = _images(fn, got, 500)
    codes = _codes_of(images, kernel)
    if np.allclose(codes, codes[0], atol=1e-3):
        raise AssertionError("all the images are the same: draw one z per image, shape (n, latent_dim)")
    few = _images(fn, _call(fn, decoder, 4, 1), 4)
    if not np.allclose(_images(fn, _call(fn, decoder, 4, 1), 4), few):
        raise AssertionError("two calls with seed=1 gave different images: pass the seed to the random draw")
    if np.allclose(_images(fn, _call(fn, decoder, 4, 2), 4), few):
        raise AssertionError("seed=1 and seed=2 gave the same images: pass the seed to the random draw")
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    if np.any(np.abs(mean) > 0.2) or np.any(np.abs(std - 1) > 0.15):
        raise AssertionError(f"the codes decoded have mean {_fmt(mean)} and std {_fmt(std)}: draw them from the "
                             "prior N(0, I), keras.random.normal((n, latent_dim), seed=seed)")
    _passed(fn, "n images decoded from z ~ N(0, I), the same for the same seed")


@recorded
def check_interpolate(fn):
    """``fn(decoder, z_a, z_b, steps) -> images``: ``steps`` images decoded from evenly spaced points on the
    straight line from code ``z_a`` to code ``z_b`` (shape (latent_dim,)), both ends included."""
    decoder, kernel = _probe_decoder()
    rng = np.random.default_rng(SEED)
    z_a, z_b = rng.normal(size=(2, PROBE_LATENT_DIM)).astype(np.float32)
    got = _call(fn, decoder, z_a, z_b, 7)
    if _not_attempted(fn, got):
        return
    images = _images(fn, got, 7)
    codes = _codes_of(images, kernel)
    t = np.linspace(0.0, 1.0, 7)[:, None]
    if np.allclose(codes, (1 - t) * z_a + t * z_b, atol=1e-3):
        return _passed(fn, "codes evenly spaced from z_a to z_b, both ends included")
    if np.allclose(codes[0], z_b, atol=1e-3) and np.allclose(codes[-1], z_a, atol=1e-3):
        raise AssertionError("the images run from z_b to z_a: start at z_a")
    if not np.allclose(codes[0], z_a, atol=1e-3):
        raise AssertionError("the first image is not decoded from z_a: t runs from 0 to 1, z = (1 - t) * z_a + t * z_b")
    if not np.allclose(codes[-1], z_b, atol=1e-3):
        raise AssertionError("the last image is not decoded from z_b: include both ends, np.linspace(0, 1, steps)")
    ends = _numpy(decoder(np.stack([z_a, z_b])))
    if np.allclose(images, (1 - t[:, :, None, None]) * ends[0] + t[:, :, None, None] * ends[1], atol=1e-4):
        raise AssertionError("the images are blends of two images' pixels: interpolate the codes, then decode them")
    raise AssertionError("the codes decoded are not evenly spaced on the line from z_a to z_b")
