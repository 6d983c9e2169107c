"""Checkers for notebook 6, generation.
"""

import keras
import numpy as np
from keras import layers

from vae_tutorial.course.exercises.common import IMAGE_SHAPE, SEED, _call, _fmt, _name, _not_attempted, _numpy, _passed
from vae_tutorial.course.verdicts import Mistake, recorded

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


def _images(fn, got, count, hint):
    images = _numpy(got)
    if images.shape != (count, *IMAGE_SHAPE):
        raise Mistake(f"{_name(fn)} returned shape {images.shape}: expected {(count, *IMAGE_SHAPE)}", hint=hint)
    return images


@recorded
def check_generate(fn):
    """``fn(decoder, n, seed) -> images``: ``n`` images (n, 64, 64, 3) decoded from z ~ N(0, I), the prior;
    the same ``seed`` gives the same images. The decoder's latent size is ``decoder.input_shape[-1]``."""
    decoder, kernel = _probe_decoder()
    got = _call(fn, decoder, 500, 1)
    if _not_attempted(fn, got):
        return
    one_each = "one image per code, and n codes: an array of codes (n, latent_dim), decoded at once"
    images = _images(fn, got, 500, one_each)
    codes = _codes_of(images, kernel)
    if np.allclose(codes, codes[0], atol=1e-3):
        raise Mistake("all the images are the same: they were decoded from one code", hint=one_each)
    seeded = ("give the seed to the random draw itself, e.g. keras.random.normal(..., seed=seed) or "
              "np.random.default_rng(seed)")
    few = _images(fn, _call(fn, decoder, 4, 1), 4, one_each)
    if not np.allclose(_images(fn, _call(fn, decoder, 4, 1), 4, one_each), few):
        raise Mistake("two calls with seed=1 gave different images: the draw does not depend on the seed",
                      hint=seeded)
    if np.allclose(_images(fn, _call(fn, decoder, 4, 2), 4, one_each), few):
        raise Mistake("seed=1 and seed=2 gave the same images: the draw does not depend on the seed", hint=seeded)
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    prior = ("the prior N(0, I) is the standard normal distribution in every dimension, mean 0 and standard "
             "deviation 1: keras.random.normal((n, latent_dim), seed=seed), neither uniform nor scaled")
    if np.any(np.abs(mean) > 0.2):
        raise Mistake(f"the 500 codes decoded have mean {_fmt(mean)} per dimension: the prior's is 0", hint=prior)
    if np.any(np.abs(std - 1) > 0.15):
        raise Mistake(f"the 500 codes decoded have standard deviation {_fmt(std)} per dimension: the prior's is 1",
                      hint=prior)
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
    images = _images(fn, got, 7, "one image per step, both ends included: steps codes, decoded at once")
    codes = _codes_of(images, kernel)
    t = np.linspace(0.0, 1.0, 7)[:, None]
    if np.allclose(codes, (1 - t) * z_a + t * z_b, atol=1e-3):
        return _passed(fn, "codes evenly spaced from z_a to z_b, both ends included")
    if np.allclose(codes[0], z_b, atol=1e-3) and np.allclose(codes[-1], z_a, atol=1e-3):
        raise Mistake("the images run from z_b to z_a, the wrong way round",
                      hint="the first image is decoded from z_a and the last from z_b")
    if not np.allclose(codes[0], z_a, atol=1e-3):
        raise Mistake("the first image is not decoded from z_a",
                      hint="the walk starts at z_a itself: t runs from 0 to 1, z = (1 - t) * z_a + t * z_b")
    if not np.allclose(codes[-1], z_b, atol=1e-3):
        raise Mistake("the last image is not decoded from z_b",
                      hint="both ends are included, so the last t is 1: np.linspace(0, 1, steps)")
    ends = _numpy(decoder(np.stack([z_a, z_b])))
    if np.allclose(images, (1 - t[:, :, None, None]) * ends[0] + t[:, :, None, None] * ends[1], atol=1e-4):
        raise Mistake("the images are blends of the two end images' pixels, not pictures the decoder drew",
                      hint="mix the codes, then decode each mixed code")
    raise Mistake("the codes decoded are not evenly spaced on the line from z_a to z_b",
                  hint="steps values of t from 0 to 1 with equal gaps, z = (1 - t) * z_a + t * z_b")
