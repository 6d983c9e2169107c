"""Checkers for the notebooks' exercises: your code against the reference, on fixed inputs.

Every ``check_*`` function takes what you wrote (a function, or a function that builds a model),
runs it on fixed inputs and

- prints ``✓ ...`` and returns None when it is right;
- prints ``○ ... not attempted yet`` and returns None when your function returns None, as the
  exercise's scaffold (a body of ``...``) does: a notebook with unfilled exercises still runs to the end;
- raises ``AssertionError`` with a one-line hint naming what is wrong otherwise: a shape, a range,
  a reduction, a missing ½, a sign, a missing gradient, ... An exception raised by your code
  becomes such an AssertionError too, with your exception attached below it.

Checkers that draw random numbers first call ``keras.utils.set_random_seed(0)``, so a verdict
never depends on luck. Each checker also writes its verdict down when ``vae-tutorial grade`` runs the
notebook (:mod:`vae_tutorial.verdicts`); otherwise that changes nothing.

Notebook 1: ``check_preprocess``, ``check_visualize_batch``
Notebook 2: ``check_encoder``, ``check_sampling``
Notebook 3: ``check_decoder``, ``check_upsampled_size``
Notebook 4: ``check_kl_divergence``, ``check_reconstruction_loss``, ``check_find_the_bug_loss``,
            ``check_find_the_bug_sampling``, ``check_find_the_bug_decoder``
Notebook 5: ``check_adam_update``, ``check_train_step``
Notebook 6: ``check_generate``, ``check_interpolate``
Notebook 7: ``check_decoder_variance``, ``check_gaussian_nll``
"""

import math
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops
from PIL import Image

from vae_tutorial.data import preprocess_image
from vae_tutorial.losses import kl_divergence, reconstruction_loss, vae_loss
from vae_tutorial.sampling import Sampling
from vae_tutorial.verdicts import NOT_ATTEMPTED, RIGHT, note, recorded

SEED = 0
IMAGE_SHAPE = (64, 64, 3)

# ---------------------------------------------------------------------------------------
# Shared by every checker
# ---------------------------------------------------------------------------------------


def _name(fn):
    return getattr(fn, "__name__", "your function")


def _call(fn, *args):
    """``fn(*args)``; an exception raised inside becomes a one-line AssertionError that names it."""
    if not callable(fn):
        raise AssertionError(f"Expected a function. Received: {type(fn).__name__}")
    try:
        return fn(*args)
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise AssertionError(f"{_name(fn)} raised {type(error).__name__}: {first_line}") from error


def _not_attempted(fn, result):
    """True (after saying so) when ``fn`` returned None or ``...``: the scaffold, still unfilled."""
    if result is None or result is Ellipsis:
        print(f"○ {_name(fn)}: not attempted yet (it returns {result!r}). Write its body, then run this cell again.")
        note(NOT_ATTEMPTED, f"it returns {result!r}")
        return True
    return False


def _passed(fn, what):
    print(f"✓ {_name(fn)} is right: {what}")
    note(RIGHT)


def _numpy(value):
    return np.asarray(ops.convert_to_numpy(value))


def _same(got, expected, rtol=1e-3, atol=1e-5):
    expected = np.asarray(expected)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def _which(got, candidates):
    """The hint of the first ``(hint, value)`` pair whose value ``got`` equals, or None."""
    return next((hint for hint, value in candidates if _same(got, value)), None)


def _fmt(values):
    return np.array2string(np.asarray(values), precision=3, separator=", ", max_line_width=10_000)


def _has_gradient(tape, target, sources):
    """For each source, whether a non-zero gradient of ``target`` reaches it."""
    if not tf.is_tensor(target):  # a NumPy array: computed outside TensorFlow, so outside the tape
        return [False] * len(sources)
    gradients = tape.gradient(target, sources)
    return [g is not None and bool(np.any(_numpy(g) != 0)) for g in gradients]


def _model(fn, built):
    """``built`` must be a Keras model."""
    if not isinstance(built, keras.Model):
        raise AssertionError(f"{_name(fn)} must return a keras.Model. It returned a {type(built).__name__}")
    return built


def _output_layer(model, output):
    """The layer of a functional model that produces ``output``, or None (e.g. a subclassed model)."""
    for layer in model.layers:
        try:
            if layer.output is output:
                return layer
        except (AttributeError, ValueError):  # a layer with no output or several
            continue
    return None


# ---------------------------------------------------------------------------------------
# Notebook 1: data preparation
# ---------------------------------------------------------------------------------------


def _write_test_images(folder):
    """Four image files with what real folders hold: transparency, a palette, another size, greyscale."""
    rgba = np.zeros((64, 64, 4), np.uint8)  # bottom right stays (0, 0, 0, 0): transparent, so white
    rgba[:, :32] = (230, 30, 30, 255)  # opaque red
    rgba[:32, 32:] = (0, 0, 255, 128)  # half-transparent blue: a light blue on white
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    palette = Image.new("P", (64, 64), 0)  # colour 0 (black) is the transparent one
    palette.putpalette([0, 0, 0, 40, 160, 40] + [0] * 762)
    palette.paste(1, (16, 16, 48, 48))  # a green square in the middle
    palette.save(folder / "palette.png", transparency=0)
    Image.new("RGB", (96, 64), (20, 120, 200)).save(folder / "wide.png")
    Image.new("L", (128, 128), 90).save(folder / "grey.png")
    return [folder / name for name in ("rgba.png", "palette.png", "wide.png", "grey.png")]


@recorded
def check_preprocess(fn):
    """``fn(path) -> image``: float32 (64, 64, 3) in [0, 1], transparent pixels white."""
    with tempfile.TemporaryDirectory() as folder:
        for path in _write_test_images(Path(folder)):
            got = _call(fn, str(path))
            if _not_attempted(fn, got):
                return
            if not hasattr(got, "shape"):
                raise AssertionError(f"it returned a {type(got).__name__}: return a NumPy array")
            expected = preprocess_image(path)
            dtype = got.dtype
            got = np.asarray(got)
            if got.ndim == 3 and got.shape[-1] == 4:
                raise AssertionError(f"{path.name} came back with 4 channels (RGBA): composite it on white, then "
                                     "convert to RGB")
            if got.shape != IMAGE_SHAPE:
                raise AssertionError(f"{path.name} came back with shape {got.shape}: expected {IMAGE_SHAPE}, "
                                     "64×64 pixels and 3 channels (resize, and convert to RGB)")
            if dtype != np.float32:
                raise AssertionError(f"the image has dtype {dtype}: return float32, "
                                     "np.asarray(img, dtype=np.float32) / 255")
            if got.max() > 1.0 or got.min() < 0.0:
                raise AssertionError(f"values from {got.min():.3g} to {got.max():.3g}: divide by 255 so that they "
                                     "lie in [0, 1]")
            transparent = expected.min(axis=-1) == 1.0  # white in the reference: transparent in the file
            if transparent.any() and got[transparent].max() < 0.5:
                raise AssertionError(f"the transparent pixels of {path.name} came out black: composite the image "
                                     "on a white background")
            if not np.allclose(got, expected, atol=3 / 255):
                row, col = np.unravel_index(np.abs(got - expected).max(axis=-1).argmax(), got.shape[:2])
                raise AssertionError(f"{path.name}: pixel ({row}, {col}) is {_fmt(got[row, col])}, expected "
                                     f"{_fmt(expected[row, col])}")
    _passed(fn, "float32 (64, 64, 3) in [0, 1], transparency on white")


def _colour_batch():
    """Six 8×8 images, image i a plain colour with one black pixel at row 0, column 1 (to see a transpose)."""
    colours = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]], np.float32) * 0.8
    batch = np.ones((6, 8, 8, 3), np.float32) * colours[:, None, None, :]
    batch[:, 0, 1] = 0.0
    return batch


def _tile(images, ncols, column_major=False, empty=1.0):
    """The grid ``check_visualize_batch`` expects (no gaps, empty cells white), or a mistaken variant of it."""
    n, height, width, _ = images.shape
    nrows = math.ceil(n / ncols)
    grid = np.full((nrows * height, ncols * width, 3), empty, np.float32)
    for i, image in enumerate(images):
        row, col = (i % nrows, i // nrows) if column_major else divmod(i, ncols)
        grid[row * height:(row + 1) * height, col * width:(col + 1) * width] = image
    return grid


@recorded
def check_visualize_batch(fn):
    """``fn(batch, ncols) -> grid``: the images side by side, row by row, empty cells white."""
    batch = _colour_batch()
    got = _call(fn, batch, 4)
    if _not_attempted(fn, got):
        return
    got = _numpy(got)
    expected = _tile(batch, 4)
    if got.shape != expected.shape:
        raise AssertionError(f"6 images of 8×8 in 4 columns gave shape {got.shape}: expected {expected.shape}, "
                             "(rows · height, ncols · width, 3) with rows = ceil(n / ncols)")
    hint = _which(got, [
        ("the grid is filled column by column: put image i at row i // ncols, column i % ncols",
         _tile(batch, 4, column_major=True)),
        ("each image is transposed (its rows became columns): copy image i as it is",
         _tile(batch.transpose(0, 2, 1, 3), 4)),
        ("the empty cells at the end are black: start from a white grid, np.ones(...)", _tile(batch, 4, empty=0.0)),
    ])
    if hint:
        raise AssertionError(hint)
    if not np.allclose(got, expected, atol=1e-6):
        raise AssertionError("the grid does not hold image i at row i // ncols, column i % ncols, "
                             "with no gaps and white empty cells")
    _passed(fn, "images row by row, empty cells white")


# ---------------------------------------------------------------------------------------
# Notebook 2: the encoder and the sampling step
# ---------------------------------------------------------------------------------------


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
        raise AssertionError("mu and log_var are equal: give each its own Dense(latent_dim) head")
    symbolic = getattr(model, "outputs", None) or []
    for name, output in zip(values, symbolic):
        activation = getattr(_output_layer(model, output), "activation", None)
        if activation is not None and activation is not keras.activations.linear:
            raise AssertionError(f"the {name} head has activation {activation.__name__!r}, which limits its range: "
                                 "give the heads no activation (any real number is a valid mu or log_var)")
    for name, value in values.items():
        if value.min() >= 0 or value.max() <= 0:
            raise AssertionError(f"{name} is never {'negative' if value.min() >= 0 else 'positive'}: "
                                 "its head must reach every real number, so give it no activation")
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
        raise AssertionError("z holds NaN: the std is exp(0.5 * log_var) (log_var can be negative)")
    if np.allclose(z, mu):
        raise AssertionError("z equals mu: there is no noise; return mu + std * eps with eps ~ N(0, I)")
    if np.allclose(_numpy(_call(fn, mu, log_var)), z):
        raise AssertionError("two calls returned the same z: draw new noise on every call "
                             "(no int seed in keras.random.normal, no eps made once outside the function)")
    noise = z - mu.numpy()
    if np.allclose(noise, noise[0]):
        raise AssertionError("every row of the batch got the same noise: draw eps with the shape of mu, "
                             "ops.shape(mu)")
    if np.corrcoef(noise[:, 0], noise[:, 1])[0, 1] > 0.9:
        raise AssertionError("every latent dimension got the same noise: draw eps with the shape of mu, "
                             "ops.shape(mu)")
    std = np.exp(0.5 * log_var.numpy()[0])
    mean, spread = z.mean(axis=0), z.std(axis=0)
    if np.any(np.abs(mean - mu.numpy()[0]) > 0.15 * std):
        raise AssertionError(f"the mean of z is {_fmt(mean)} where mu is {_fmt(mu.numpy()[0])}: "
                             "z = mu + std * eps, with eps of mean 0")
    if not np.all(np.abs(spread - std) < 0.1 * std):
        raise AssertionError(_spread_hint(spread, std))
    for name, reached in zip(("mu", "log_var"), _has_gradient(tape, z_tensor, [mu, log_var])):
        if not reached:
            raise AssertionError(f"no gradient reaches {name}: draw eps with keras.random.normal and compute "
                                 "mu + ops.exp(0.5 * log_var) * eps with keras.ops (not NumPy)")
    compiled = tf.function(fn, autograph=False)  # as Keras compiles a layer's call in fit
    if np.allclose(_numpy(_call(compiled, mu, log_var)), _numpy(_call(compiled, mu, log_var))):
        raise AssertionError("under tf.function (as in model.fit) z is the same on every call: a NumPy or Python "
                             "draw runs once, when the function is traced; draw eps with keras.random.normal")
    _passed(fn, "z ~ N(mu, exp(log_var)), and gradients reach mu and log_var")


def _spread_hint(spread, std):
    """What the standard deviation ``spread`` of the draws says about the mistake, where ``std`` was right."""
    variance, log_var = std**2, np.log(std**2)
    for hint, candidate in [
        ("the std used is exp(log_var), which is the variance: the std is exp(0.5 * log_var) (the ½ is missing)",
         variance),
        ("the ½ multiplies exp(log_var); it belongs inside the exponent: std = exp(0.5 * log_var)", 0.5 * variance),
        ("the std used is exp(-0.5 * log_var): a sign; the std is exp(+0.5 * log_var)", 1 / std),
        ("the std used is log_var itself: the std is exp(0.5 * log_var)", np.abs(log_var)),
        ("the spread is 1 in every dimension: multiply eps by the std, exp(0.5 * log_var)", np.ones_like(std)),
    ]:
        if np.all(np.abs(spread - candidate) < 0.1 * candidate + 0.02):
            return hint
    return f"the std of z is {_fmt(spread)} where exp(0.5 * log_var) is {_fmt(std)}"


# ---------------------------------------------------------------------------------------
# Notebook 3: the decoder
# ---------------------------------------------------------------------------------------


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
        raise AssertionError(f"pixel values from {images.min():.3g} to {images.max():.3g}, outside the range [0, 1]: "
                             "end the decoder with a sigmoid")
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
            raise AssertionError(f"{case}: {got}; with padding='valid' the kernel overhangs: (size - 1) * strides "
                                 "+ kernel_size")
        if padding == "same" and got == (size - 1) * stride + kernel:
            raise AssertionError(f"{case}: {got} is the 'valid' size; with padding='same' it is size * strides")
        raise AssertionError(f"{case}: got {got!r}, expected {expected}")
    _passed(fn, "the output size for 'same' and 'valid' padding")


# ---------------------------------------------------------------------------------------
# Notebook 4: the loss, and the mistakes tutorials make
# ---------------------------------------------------------------------------------------


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
    """Hints paired with the KL per image that each mistake computes."""
    mu, log_var = mu.numpy(), log_var.numpy()
    var = np.exp(log_var)

    def kl(terms, reduce=np.sum):
        return reduce(terms, axis=-1)

    return [
        ("KL takes the mean over the latent dimensions: sum over them instead (axis=-1)",
         kl(-0.5 * (1 + log_var - mu**2 - var), np.mean)),
        ("KL has the wrong sign: KL = -0.5 * sum(1 + log_var - mu² - exp(log_var)), never negative",
         kl(0.5 * (1 + log_var - mu**2 - var))),
        ("KL is twice too large, the ½ (one half) is missing: KL = -0.5 * sum(1 + log_var - mu² - exp(log_var))",
         kl(-(1 + log_var - mu**2 - var))),
        ("a sign inside KL's sum: KL = -0.5 * sum(1 + log_var - mu² - exp(log_var))",
         kl(-0.5 * (1 + log_var - mu**2 + var))),
        ("a sign inside KL's sum: KL = -0.5 * sum(1 + log_var - mu² - exp(log_var))",
         kl(-0.5 * (1 + log_var + mu**2 - var))),
        ("KL uses exp(0.5 * log_var), the std, where exp(log_var), the variance, belongs",
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
        raise AssertionError("one number for the whole batch (its mean): return one KL per image, shape (batch,)")
    if got.shape == tuple(mu.shape):
        raise AssertionError(f"one value per latent dimension, shape {got.shape}: sum over them (axis=-1), "
                             "one KL per image")
    if got.shape != expected.shape:
        raise AssertionError(f"shape {got.shape} for mu of shape {tuple(mu.shape)}: expected {expected.shape}, "
                             "one KL per image (sum over axis=-1 only)")
    if not _same(got, expected):
        hint = _which(got, _kl_mistakes(mu, log_var))
        raise AssertionError(hint or f"KL per image is {_fmt(got)}, expected {_fmt(expected)}: "
                                     "-0.5 * sum(1 + log_var - mu² - exp(log_var), axis=-1)")
    if not all(_has_gradient(tape, kl_tensor, [mu, log_var])):
        raise AssertionError("no gradient reaches mu and log_var: compute KL with keras.ops (not NumPy)")
    _passed(fn, "KL per image, summed over the latent dimensions")


def _reconstruction_mistakes(x, x_hat):
    """Hints paired with the reconstruction loss per image that each mistake computes."""
    error = x.numpy() - x_hat.numpy()

    def per_image(values, reduce=np.sum):
        return reduce(values, axis=(1, 2, 3))

    return [
        ("a per-pixel mean: sum the squared errors over height, width and channels, axis=(1, 2, 3)",
         per_image(error**2, np.mean)),
        ("a sum of means over the channels (keras.losses.mean_squared_error takes the mean over the channels): "
         "sum over the channels too", per_image(error**2) / error.shape[-1]),
        ("absolute error: square the differences, (x - x_hat)²", per_image(np.abs(error))),
        ("a square root too many: the loss is the sum of squared errors itself", np.sqrt(per_image(error**2))),
        ("half the summed squared error: the loss is the sum itself, no ½", per_image(0.5 * error**2)),
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
        raise AssertionError(f"shape {got.shape}: that takes the mean over the channels only (as "
                             "keras.losses.mean_squared_error does); sum over height, width and channels")
    if got.shape != expected.shape:
        raise AssertionError(f"shape {got.shape} for images of shape {tuple(x.shape)}: expected {expected.shape}, "
                             "one sum per image, axis=(1, 2, 3)")
    if not _same(got, expected):
        hint = _which(got, _reconstruction_mistakes(x, x_hat))
        raise AssertionError(hint or f"the loss per image is {_fmt(got)}, expected {_fmt(expected)}: "
                                     "sum((x - x_hat)², axis=(1, 2, 3))")
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
        hint = _which(got, [(hint, value.mean()) for hint, value in _reconstruction_mistakes(x, x_hat)] + [
            ("the loss is summed over the batch: take the batch mean", 3 * expected),
        ])
        raise AssertionError(hint or f"with KL = 0 the loss is {got:.4g}, expected the batch mean of the summed "
                                     f"squared error, {expected:.4g}")
    got, expected = _numpy(only_kl), _numpy(ops.mean(kl_divergence(mu, log_var)))
    if not _same(got, expected):
        hint = _which(got, [(hint, value.mean()) for hint, value in _kl_mistakes(mu, log_var)] + [
            ("there is no KL term: loss = reconstruction + KL", 0.0),
        ])
        raise AssertionError(hint or f"with no reconstruction error the loss is {got:.4g}, expected the batch "
                                     f"mean of the KL, {expected:.4g}")
    expected = _numpy(vae_loss(x, x_hat, mu, log_var)["loss"])
    if not _same(_numpy(loss_tensor), expected):
        raise AssertionError(f"the loss is {_numpy(loss_tensor):.4g}, expected reconstruction + KL = {expected:.4g}")
    if not all(_has_gradient(tape, loss_tensor, [x_hat, mu, log_var])):
        raise AssertionError("no gradient reaches x_hat, mu and log_var: compute the loss with keras.ops (not NumPy)")
    _passed(fn, "batch mean of (summed squared error + KL summed over latent dimensions)")


@recorded
def check_find_the_bug_sampling(fn):
    """``fn(mu, log_var) -> z``, the tutorial's sampling function fixed: the contract of :func:`check_sampling`."""
    check_sampling(fn)


@recorded
def check_find_the_bug_decoder(build):
    """``build(latent_dim) -> keras.Model``, the tutorial's decoder fixed: the contract of :func:`check_decoder`."""
    check_decoder(build)


# ---------------------------------------------------------------------------------------
# Notebook 5: training
# ---------------------------------------------------------------------------------------


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
            raise AssertionError("return three values, (w, m, v): the new weights and moments")
        new_w, new_m, new_v = (_numpy(value) for value in got)
        expected_w, expected_m, expected_v = _adam_reference(w, g, m, v, t, *hyper)
        if not _same(new_m, expected_m):
            raise AssertionError(f"at t={t}, m is not beta_1 * m + (1 - beta_1) * g")
        if not _same(new_v, expected_v):
            hint = "v uses g where g² belongs" if _same(new_v, 0.999 * v + 0.001 * g) else ""
            raise AssertionError(hint or f"at t={t}, v is not beta_2 * v + (1 - beta_2) * g²")
        if _same(new_w, expected_w):
            continue
        lr, beta_1, beta_2, epsilon = hyper
        hint = _which(new_w, [
            ("the step goes uphill: w - learning_rate * m_hat / (sqrt(v_hat) + epsilon), a minus",
             2 * w - expected_w),
            ("no bias correction: m_hat = m / (1 - beta_1**t), v_hat = v / (1 - beta_2**t)",
             w - lr * expected_m / (np.sqrt(expected_v) + epsilon)),
            ("no square root: divide by sqrt(v_hat) + epsilon",
             w - lr * (expected_m / (1 - beta_1**t)) / (expected_v / (1 - beta_2**t) + epsilon)),
            ("the weights' step uses the old moments: update m and v first",
             w - lr * (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + epsilon)),
        ])
        raise AssertionError(hint or f"at t={t}, w is {_fmt(new_w)}, expected {_fmt(expected_w)}")
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
        raise AssertionError("the weights did not change: apply the gradients, "
                             "optimizer.apply_gradients(zip(gradients, model.trainable_weights))")
    in_encoder = [any(w is e for e in model.encoder.trainable_weights) for w in model.trainable_weights]
    for part, inside in (("encoder", True), ("decoder", False)):
        if not any(c for c, e in zip(changed, in_encoder) if e == inside):
            raise AssertionError(f"the {part}'s weights did not change: take the gradients of all the weights, "
                                 "model.trainable_weights")
    step, expected = np.concatenate([s.ravel() for s in step]), np.concatenate([e.ravel() for e in expected])
    cosine = step @ expected / (np.linalg.norm(step) * np.linalg.norm(expected))
    if cosine < -0.5:
        raise AssertionError("the weights moved uphill: minimise the loss (no minus sign on the loss or on the "
                             "gradients)")
    if loss is None:
        raise AssertionError(f"{_name(fn)} returns None: return the loss")
    got = _numpy(loss)
    if got.shape != ():
        raise AssertionError(f"the loss returned has shape {got.shape}: return its batch mean, a scalar")
    if not np.isclose(got, losses["loss"], rtol=1e-3):
        hint = _which(got, [
            ("the loss has no KL term: loss = reconstruction + KL", losses["reconstruction_loss"]),
            ("the loss has no reconstruction term: loss = reconstruction + KL", losses["kl_loss"]),
            ("the reconstruction term is a per-pixel mean: sum over height, width and channels",
             losses["reconstruction_loss"] / (8 * 8 * 3) + losses["kl_loss"]),
            ("the loss is summed over the batch: take its mean", len(x) * losses["loss"]),
        ])
        raise AssertionError(hint or f"the loss returned is {float(got):.4g}, expected {losses['loss']:.4g} "
                                     "(reconstruction + KL, batch mean, before the update)")
    ratio = np.linalg.norm(step) / np.linalg.norm(expected)
    if cosine < 0.9 or not 0.5 < ratio < 2:
        raise AssertionError("the weights' change is not one Adam step on the loss: apply the optimizer given, "
                             "once, to the gradients of the loss")
    _passed(fn, "one Adam step on the VAE loss, returning the loss")


# ---------------------------------------------------------------------------------------
# Notebook 6: generation
# ---------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------
# Notebook 7: beyond the basics
# ---------------------------------------------------------------------------------------


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
