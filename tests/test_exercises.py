"""The exercise checkers accept the instructor's solutions and reject each typical mistake with the hint it names."""

import inspect
import json
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops
from PIL import Image, ImageOps

from conftest import load_file
from vae_tutorial.course import exercises
from vae_tutorial.course.verdicts import Mistake
from vae_tutorial.losses import kl_divergence, reconstruction_loss

ROOT = Path(__file__).resolve().parents[1]

# checker → (solutions file, the function the student writes)
EXERCISES = {
    "check_preprocess": ("nb01_data_preparation", "my_preprocess"),
    "check_visualize_batch": ("nb01_data_preparation", "my_visualize_batch"),
    "check_encoder": ("nb02_encoder_and_sampling", "build_my_encoder"),
    "check_sampling": ("nb02_encoder_and_sampling", "my_sample"),
    "check_decoder": ("nb03_decoder", "build_my_decoder"),
    "check_upsampled_size": ("nb03_decoder", "my_upsampled_size"),
    "check_kl_divergence": ("nb04_vae_model_and_loss", "my_kl_divergence"),
    "check_reconstruction_loss": ("nb04_vae_model_and_loss", "my_reconstruction_loss"),
    "check_find_the_bug_loss": ("nb04_vae_model_and_loss", "fixed_vae_loss"),
    "check_find_the_bug_encoder": ("nb04_vae_model_and_loss", "build_fixed_encoder"),
    "check_find_the_bug_decoder": ("nb03_decoder", "build_fixed_decoder"),
    "check_adam_update": ("nb05_training", "my_adam_update"),
    "check_train_step": ("nb05_training", "my_train_step"),
    "check_my_vae": ("nb05_training", "my_vae"),
    "check_generate": ("nb06_generation", "my_generate"),
    "check_interpolate": ("nb06_generation", "my_interpolate"),
    "check_decoder_variance": ("nb07_beyond_the_basics", "my_decoder_variance"),
    "check_gaussian_nll": ("nb07_beyond_the_basics", "my_gaussian_nll"),
}


def solutions(module):
    return load_file(f"solutions/{module}.py")


def solution(checker):
    module, name = EXERCISES[checker]
    return getattr(solutions(module), name)


def rejects(checker, fn, word):
    """``checker(fn)`` raises a one-line AssertionError whose message, or the hint it offers, contains ``word``."""
    with pytest.raises(AssertionError) as raised:
        getattr(exercises, checker)(fn)
    message = str(raised.value)
    assert "\n" not in message, message
    assert word in message + " " + (getattr(raised.value, "hint", None) or ""), message
    return raised.value


def test_every_checker_is_listed():
    public = {name for name in dir(exercises) if name.startswith("check_")}
    assert public == set(EXERCISES)


@pytest.mark.parametrize("checker", sorted(EXERCISES))
def test_checker_accepts_the_solution(checker, capsys):
    assert getattr(exercises, checker)(solution(checker)) is None
    assert capsys.readouterr().out.startswith("✓ ")


@pytest.mark.parametrize("checker", sorted(EXERCISES))
def test_an_unfilled_scaffold_is_not_attempted_yet(checker, capsys):
    def scaffold(*args):
        ...

    assert getattr(exercises, checker)(scaffold) is None
    assert "not attempted yet" in capsys.readouterr().out


def test_an_exception_in_the_students_code_is_a_one_line_hint():
    def broken(mu, log_var):
        raise ValueError("first line\nsecond line")

    rejects("check_sampling", broken, "broken raised ValueError: first line")


# ---------------------------------------------------------------------------------------
# Notebook 1
# ---------------------------------------------------------------------------------------


def _on_white(img):
    img = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", img.size, "white"), img).convert("RGB")


def _on_white_unless_grey(img):
    return img if img.mode == "L" else _on_white(img)


PREPROCESS_MISTAKES = {
    "uint8, not scaled": (lambda p: np.asarray(ImageOps.fit(_on_white(Image.open(p)), (64, 64))), "float32"),
    "float64": (lambda p: np.asarray(ImageOps.fit(_on_white(Image.open(p)), (64, 64))) / 255.0, "float32"),
    "not divided by 255": (lambda p: np.asarray(ImageOps.fit(_on_white(Image.open(p)), (64, 64)), np.float32),
                           "the contract says [0, 1]"),
    "alpha kept": (lambda p: np.asarray(ImageOps.fit(Image.open(p).convert("RGBA"), (64, 64)), np.float32) / 255,
                   "4 channels"),
    "transparent on black": (lambda p: np.asarray(ImageOps.fit(Image.open(p).convert("RGB"), (64, 64)),
                                                  np.float32) / 255, "came out black"),
    "not resized": (lambda p: np.asarray(_on_white(Image.open(p)), np.float32) / 255, "came back with shape"),
    "greyscale kept": (lambda p: np.asarray(ImageOps.fit(_on_white_unless_grey(Image.open(p)), (64, 64)),
                                            np.float32) / 255, "3 channels"),
}


@pytest.mark.parametrize("mistake", PREPROCESS_MISTAKES)
def test_check_preprocess_rejects(mistake):
    fn, word = PREPROCESS_MISTAKES[mistake]
    rejects("check_preprocess", fn, word)


def _column_major(batch, ncols=8):
    n, h, w, _ = batch.shape
    nrows = -(-n // ncols)
    grid = np.ones((nrows * h, ncols * w, 3), np.float32)
    for i in range(n):
        grid[(i % nrows) * h:(i % nrows + 1) * h, (i // nrows) * w:(i // nrows + 1) * w] = batch[i]
    return grid


def _grid(batch, ncols=8, empty=1.0, transpose=False):
    n, h, w, _ = batch.shape
    grid = np.full((-(-n // ncols) * h, ncols * w, 3), empty, np.float32)
    for i in range(n):
        row, col = divmod(i, ncols)
        grid[row * h:(row + 1) * h, col * w:(col + 1) * w] = batch[i].transpose(1, 0, 2) if transpose else batch[i]
    return grid


VISUALIZE_MISTAKES = {
    "column by column": (_column_major, "column by column"),
    "images transposed": (lambda batch, ncols=8: _grid(batch, ncols, transpose=True), "transposed"),
    "empty cells black": (lambda batch, ncols=8: _grid(batch, ncols, empty=0.0), "black"),
    "ncols rows": (lambda batch, ncols=8: _grid(batch, 2), "shape"),
}


@pytest.mark.parametrize("mistake", VISUALIZE_MISTAKES)
def test_check_visualize_batch_rejects(mistake):
    fn, word = VISUALIZE_MISTAKES[mistake]
    rejects("check_visualize_batch", fn, word)


# ---------------------------------------------------------------------------------------
# Notebook 2
# ---------------------------------------------------------------------------------------


def _encoder(latent_dim, head=None, mu_only=False, same_head=False, shape=(64, 64, 3)):
    images = keras.Input(shape)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(layers.Conv2D(4, 3, strides=4)(images)))
    mu = layers.Dense(latent_dim)(x)
    log_var = mu if same_head else layers.Dense(latent_dim, activation=head)(x)
    return keras.Model(images, mu if mu_only else [mu, log_var])


ENCODER_MISTAKES = {
    "not a model": (lambda d: [layers.Dense(d), layers.Dense(d)], "keras.Model"),
    "one output": (lambda d: _encoder(d, mu_only=True), "expected 2"),
    "latent_dim ignored": (lambda d: _encoder(512), "shape"),
    "relu on log_var": (lambda d: _encoder(d, head="relu"), "relu"),
    "softplus on log_var": (lambda d: _encoder(d, head="softplus"), "softplus"),
    "one head for both": (lambda d: _encoder(d, same_head=True), "are equal"),
    "MNIST input": (lambda d: _encoder(d, shape=(28, 28, 1)), "raised"),
}


@pytest.mark.parametrize("mistake", ENCODER_MISTAKES)
def test_check_encoder_rejects(mistake):
    fn, word = ENCODER_MISTAKES[mistake]
    rejects("check_encoder", fn, word)


def test_check_encoder_probes_the_range_of_a_subclassed_model():
    class Encoder(keras.Model):  # no functional outputs to inspect: the values must tell
        def __init__(self, latent_dim):
            super().__init__()
            self.flatten, self.mu, self.log_var = layers.Flatten(), layers.Dense(latent_dim), layers.Dense(latent_dim)

        def call(self, images):
            x = self.flatten(images)
            return [self.mu(x), ops.exp(self.log_var(x))]

    rejects("check_encoder", Encoder, "log_var is never negative")


def _eps(mu):
    return keras.random.normal(ops.shape(mu))


SAMPLING_MISTAKES = {
    "exp(log_var) as the std": (lambda mu, lv: mu + ops.exp(lv) * _eps(mu), "σ², the variance"),
    "½ outside the exp": (lambda mu, lv: mu + 0.5 * ops.exp(lv) * _eps(mu), "half the variance"),
    "sign of the exponent": (lambda mu, lv: mu + ops.exp(-0.5 * lv) * _eps(mu), "1/σ"),
    "log_var as the std": (lambda mu, lv: mu + lv * _eps(mu), "log_var itself"),
    "unscaled noise": (lambda mu, lv: mu + _eps(mu), "whatever log_var is"),
    "sqrt of log_var": (lambda mu, lv: mu + ops.sqrt(lv) * _eps(mu), "NaN"),
    "returns mu": (lambda mu, lv: mu, "no noise"),
    "NumPy draw": (lambda mu, lv: np.random.normal(mu, np.exp(0.5 * np.asarray(lv))), "no gradient"),
    "stop_gradient on the std": (lambda mu, lv: mu + tf.stop_gradient(ops.exp(0.5 * lv)) * _eps(mu),
                                 "no gradient reaches log_var"),
    "NumPy noise, frozen under tf.function": (
        lambda mu, lv: mu + ops.exp(0.5 * lv) * np.random.normal(size=mu.shape).astype("float32"), "tf.function"),
    "fixed int seed": (lambda mu, lv: mu + ops.exp(0.5 * lv) * keras.random.normal(ops.shape(mu), seed=42), "same"),
    "noise of shape (latent_dim,)": (lambda mu, lv: mu + ops.exp(0.5 * lv) * keras.random.normal(mu.shape[1:]),
                                     "every row"),
    "noise of shape (batch, 1)": (lambda mu, lv: mu + ops.exp(0.5 * lv) * keras.random.normal((mu.shape[0], 1)),
                                  "every latent dimension"),
    "wrong shape": (lambda mu, lv: ops.sum(mu + ops.exp(0.5 * lv) * _eps(mu), axis=-1), "shape"),
    "wrong mean": (lambda mu, lv: ops.exp(0.5 * lv) * _eps(mu), "mean"),
}


@pytest.mark.parametrize("mistake", SAMPLING_MISTAKES)
def test_check_sampling_rejects(mistake):
    fn, word = SAMPLING_MISTAKES[mistake]
    rejects("check_sampling", fn, word)


# ---------------------------------------------------------------------------------------
# Notebook 3
# ---------------------------------------------------------------------------------------


def _decoder(latent_dim, activation="sigmoid", channels=3, upsamplings=2, outputs=1):
    z = keras.Input((latent_dim,))
    side = 16
    x = layers.Reshape((side, side, 8))(layers.Dense(side * side * 8, activation="relu")(z))
    for _ in range(upsamplings):
        x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    images = layers.Conv2DTranspose(channels, 3, padding="same", activation=activation)(x)
    return keras.Model(z, [images] * outputs if outputs > 1 else images)


DECODER_MISTAKES = {
    "no sigmoid": (lambda d: _decoder(d, activation=None), "sigmoid"),
    "relu at the end": (lambda d: _decoder(d, activation="relu"), "sigmoid"),
    "tanh at the end": (lambda d: _decoder(d, activation="tanh"), "sigmoid"),
    "one upsampling too few": (lambda d: _decoder(d, upsamplings=1), "shape"),
    "one channel": (lambda d: _decoder(d, channels=1), "shape"),
    "not a model": (lambda d: _decoder(d).layers, "keras.Model"),
    "two outputs": (lambda d: _decoder(d, outputs=2), "one tensor"),
}


@pytest.mark.parametrize("mistake", DECODER_MISTAKES)
def test_check_decoder_rejects(mistake):
    fn, word = DECODER_MISTAKES[mistake]
    rejects("check_decoder", fn, word)


UPSAMPLED_MISTAKES = {
    "a convolution's size": (lambda size, k, s, p: -(-size // s) if p == "same" else (size - k) // s + 1, "Conv2D"),
    "'valid' without the kernel": (lambda size, k, s, p: size * s, "overhangs"),
    "'same' with the kernel": (lambda size, k, s, p: (size - 1) * s + k, "'valid' size"),
}


@pytest.mark.parametrize("mistake", UPSAMPLED_MISTAKES)
def test_check_upsampled_size_rejects(mistake):
    fn, word = UPSAMPLED_MISTAKES[mistake]
    rejects("check_upsampled_size", fn, word)


def test_the_solution_for_upsampled_size_is_keras_own_arithmetic():
    fn = solution("check_upsampled_size")
    for size, kernel, stride, padding in [(3, 3, 1, "valid"), (9, 4, 3, "valid"), (10, 5, 4, "same")]:
        layer = layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding)
        assert fn(size, kernel, stride, padding) == layer.compute_output_shape((1, size, size, 1))[1]


# ---------------------------------------------------------------------------------------
# Notebook 4
# ---------------------------------------------------------------------------------------


def _kl_terms(mu, log_var):
    return 1 + log_var - ops.square(mu) - ops.exp(log_var)


KL_MISTAKES = {
    "mean over latent dimensions": (lambda mu, lv: -0.5 * ops.mean(_kl_terms(mu, lv), axis=-1),
                                    "averaged over the latent"),
    "batch mean": (lambda mu, lv: ops.mean(kl_divergence(mu, lv)), "whole batch"),
    "no sum": (lambda mu, lv: -0.5 * _kl_terms(mu, lv), "per latent dimension"),
    "sign": (lambda mu, lv: 0.5 * ops.sum(_kl_terms(mu, lv), axis=-1), "wrong sign"),
    "missing ½": (lambda mu, lv: -ops.sum(_kl_terms(mu, lv), axis=-1), "½"),
    "sign inside": (lambda mu, lv: -0.5 * ops.sum(1 + lv - ops.square(mu) + ops.exp(lv), axis=-1), "sign inside"),
    "std for variance": (lambda mu, lv: -0.5 * ops.sum(1 + lv - ops.square(mu) - ops.exp(0.5 * lv), axis=-1),
                         "standard deviation"),
    "NumPy": (lambda mu, lv: np.asarray(kl_divergence(mu, lv)), "no gradient"),
}


@pytest.mark.parametrize("mistake", KL_MISTAKES)
def test_check_kl_divergence_rejects(mistake):
    fn, word = KL_MISTAKES[mistake]
    rejects("check_kl_divergence", fn, word)


RECONSTRUCTION_MISTAKES = {
    "per-pixel mean": (lambda x, x_hat: reconstruction_loss(x, x_hat, reduction="mean"), "per-pixel mean"),
    "keras mean_squared_error": (lambda x, x_hat: keras.losses.mean_squared_error(x, x_hat), "channels only"),
    "keras mean_squared_error summed": (
        lambda x, x_hat: ops.sum(keras.losses.mean_squared_error(x, x_hat), axis=(1, 2)), "a mean over the channels"),
    "keras MeanSquaredError": (lambda x, x_hat: keras.losses.MeanSquaredError()(x, x_hat), "MeanSquaredError"),
    "batch mean": (lambda x, x_hat: ops.mean(reconstruction_loss(x, x_hat)), "its mean"),
    "batch sum": (lambda x, x_hat: ops.sum(reconstruction_loss(x, x_hat)), "its sum"),
    "absolute error": (lambda x, x_hat: ops.sum(ops.abs(x - x_hat), axis=(1, 2, 3)), "absolute"),
    "square root": (lambda x, x_hat: ops.sqrt(reconstruction_loss(x, x_hat)), "square root"),
    "a ½": (lambda x, x_hat: 0.5 * reconstruction_loss(x, x_hat), "half"),
    "NumPy": (lambda x, x_hat: np.sum((np.asarray(x) - np.asarray(x_hat)) ** 2, axis=(1, 2, 3)), "no gradient"),
}


@pytest.mark.parametrize("mistake", RECONSTRUCTION_MISTAKES)
def test_check_reconstruction_loss_rejects(mistake):
    fn, word = RECONSTRUCTION_MISTAKES[mistake]
    rejects("check_reconstruction_loss", fn, word)


def _loss(reconstruction="sum", kl="sum", batch=ops.mean, with_kl=True):
    def loss(x, x_hat, mu, log_var):
        squared = ops.square(x - x_hat)
        rec = ops.sum(squared, axis=(1, 2, 3)) if reconstruction == "sum" else ops.mean(squared, axis=(1, 2, 3))
        terms = _kl_terms(mu, log_var)
        kl_value = -0.5 * (ops.sum(terms, axis=-1) if kl == "sum" else ops.mean(terms, axis=-1))
        return batch(rec + kl_value if with_kl else rec)
    return loss


def tutorial_vae_loss(x, x_hat, mu, log_var):  # the buggy code of the find-the-bug exercise, as EXERCISES.md gives it
    reconstruction = ops.mean(ops.square(x - x_hat))
    kl = -0.5 * ops.mean(1 + log_var - ops.square(mu) - ops.exp(log_var))
    return reconstruction + kl


LOSS_MISTAKES = {
    "the tutorial's code": (tutorial_vae_loss, "per-pixel mean"),
    "per-pixel reconstruction only": (_loss(reconstruction="mean"), "per-pixel mean"),
    "KL averaged over latent dimensions only": (_loss(kl="mean"), "averaged over the latent dimensions"),
    "no batch mean": (_loss(batch=lambda v: v), "one number"),
    "batch sum": (_loss(batch=ops.sum), "summed over the batch"),
    "no KL": (_loss(with_kl=False), "no KL"),
    "NumPy": (lambda *args: np.asarray(_loss()(*args)), "no gradient"),
}


@pytest.mark.parametrize("mistake", LOSS_MISTAKES)
def test_check_find_the_bug_loss_rejects(mistake):
    fn, word = LOSS_MISTAKES[mistake]
    rejects("check_find_the_bug_loss", fn, word)


def _tutorial_encoder(latent_dim, log_var_activation="relu", mu_activation=None):
    images = keras.Input((64, 64, 3))
    x = layers.Dense(16, activation="relu")(layers.Flatten()(layers.Conv2D(4, 3, strides=4)(images)))
    return keras.Model(images, [layers.Dense(latent_dim, activation=mu_activation)(x),
                                layers.Dense(latent_dim, activation=log_var_activation)(x)])


class _ExpLogVar(keras.Model):  # a subclassed model: no functional outputs to inspect, the values must tell
    def __init__(self, latent_dim):
        super().__init__()
        self.flatten, self.mu, self.log_var = layers.Flatten(), layers.Dense(latent_dim), layers.Dense(latent_dim)

    def call(self, images):
        x = self.flatten(images)
        return [self.mu(x), ops.exp(self.log_var(x))]


ENCODER_BUG_MISTAKES = {
    "the tutorial's code (a ReLU on log_var)": (_tutorial_encoder, "never negative"),
    "softplus instead of the ReLU": (lambda d: _tutorial_encoder(d, "softplus"), "never negative"),
    "exp instead of the ReLU": (lambda d: _tutorial_encoder(d, "exponential"), "never negative"),
    "tanh instead of the ReLU": (lambda d: _tutorial_encoder(d, "tanh"), "bounds log_var"),
    "the ReLU moved to mu": (lambda d: _tutorial_encoder(d, None, "relu"), "the mu head"),
    "exp after the head (subclassed)": (_ExpLogVar, "never negative"),
}


@pytest.mark.parametrize("mistake", ENCODER_BUG_MISTAKES)
def test_check_find_the_bug_encoder_rejects(mistake):
    fn, word = ENCODER_BUG_MISTAKES[mistake]
    error = rejects("check_find_the_bug_encoder", fn, word)
    assert "no activation" in error.hint and "no activation" not in str(error)  # the answer is in the hint only


class _Clip(layers.Layer):
    def call(self, x):
        return ops.clip(x, 0.0, 1.0)


def _tutorial_decoder(latent_dim, channels=1, activation=None, clip=False):
    z = keras.Input((latent_dim,))
    x = layers.Reshape((16, 16, 8))(layers.Dense(16 * 16 * 8, activation="relu")(z))
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    images = layers.Conv2DTranspose(channels, 3, padding="same", activation=activation)(x)
    return keras.Model(z, _Clip()(images) if clip else images)


DECODER_BUG_MISTAKES = {
    "the tutorial's code (one channel, no sigmoid)": (_tutorial_decoder, "channel"),
    "only the sigmoid fixed": (lambda d: _tutorial_decoder(d, activation="sigmoid"), "channel"),
    "only the channels fixed": (lambda d: _tutorial_decoder(d, channels=3), "range of images"),
    "a tanh at the end": (lambda d: _tutorial_decoder(d, channels=3, activation="tanh"), "range of images"),
    "a ReLU at the end": (lambda d: _tutorial_decoder(d, channels=3, activation="relu"), "exactly 0 or 1"),
    "a clip at the end": (lambda d: _tutorial_decoder(d, channels=3, clip=True), "exactly 0 or 1"),
}


@pytest.mark.parametrize("mistake", DECODER_BUG_MISTAKES)
def test_check_find_the_bug_decoder_rejects(mistake):
    fn, word = DECODER_BUG_MISTAKES[mistake]
    error = rejects("check_find_the_bug_decoder", fn, word)
    assert "sigmoid" not in str(error) or "clip" in str(error)  # the message names the mistake, not the fix


def test_kl_messages_name_the_mistake_without_the_formula():
    for mistake, (fn, _) in KL_MISTAKES.items():
        with pytest.raises(AssertionError) as raised:
            exercises.check_kl_divergence(fn)
        assert "exp(log_var))" not in str(raised.value) and "1 + log_var" not in str(raised.value), mistake


# The message names the mistake; the fix (a formula, a call, an argument) is in the hint only, shown on request.
# checker → (its mistakes, what none of its messages may say, the mistakes whose message may carry no hint)
ANSWERS_KEPT_FOR_THE_HINT = {
    "check_preprocess": (PREPROCESS_MISTAKES, ["divide", "/ 255", "composite", "np.asarray", "resize", "ImageOps"],
                         set()),
    "check_visualize_batch": (VISUALIZE_MISTAKES, ["i // ncols", "i % ncols", "np.ones", "ceil", "as it is"], set()),
    "check_encoder": (ENCODER_MISTAKES, ["no activation", "own Dense"], {"not a model", "one output",
                                                                       "latent_dim ignored", "MNIST input"}),
    "check_sampling": (SAMPLING_MISTAKES, ["exp(0.5", "0.5 * log_var", "exp(+0.5", "keras.random.normal",
                                           "ops.shape", "mu + ", "inside the exponent", "multiply eps", "seed"],
                       {"wrong shape"}),
    "check_reconstruction_loss": ({k: v for k, v in RECONSTRUCTION_MISTAKES.items()
                                   if k in ("per-pixel mean", "keras mean_squared_error summed", "absolute error",
                                            "square root", "a ½")},
                                  ["axis=(1, 2, 3)", "sum over", "square the", "sum itself", "no ½"], set()),
    "check_find_the_bug_loss": ({k: v for k, v in LOSS_MISTAKES.items() if k not in ("no batch mean", "NumPy")},
                                ["axis=(1, 2, 3)", "sum over", "square the", "take the", "reconstruction + KL"],
                                set()),
}


@pytest.mark.parametrize("checker", ANSWERS_KEPT_FOR_THE_HINT)
def test_messages_name_the_mistake_and_keep_the_fix_for_the_hint(checker):
    mistakes, answers, without_hint = ANSWERS_KEPT_FOR_THE_HINT[checker]
    for mistake, (fn, word) in mistakes.items():
        error = rejects(checker, fn, word)
        message = str(error)
        assert not [answer for answer in answers if answer in message], (mistake, message)
        if mistake in without_hint:  # a broken contract (a type, a shape), which the message states in full
            continue
        assert word in message, (mistake, message)  # the mistake is named without asking for the hint
        assert isinstance(error, Mistake) and error.hint, (mistake, message)
        assert f"{checker}({getattr(fn, '__name__', 'your_function')}, hint=True)" in message, (mistake, message)
        with pytest.raises(Mistake) as raised:
            getattr(exercises, checker)(fn, hint=True)
        assert str(raised.value).startswith(error.args[0].split(" (For a hint:")[0]), mistake
        assert f"Hint: {error.hint}" in str(raised.value), (mistake, str(raised.value))
        assert "For a hint" not in str(raised.value), mistake


def test_the_hint_gives_the_fix_the_message_keeps_back():
    for checker, fn, fix in [
        ("check_sampling", SAMPLING_MISTAKES["exp(log_var) as the std"][0], "exp(0.5 * log_var)"),
        ("check_preprocess", PREPROCESS_MISTAKES["not divided by 255"][0], "divide by 255"),
        ("check_encoder", ENCODER_MISTAKES["relu on log_var"][0], "no activation"),
        ("check_visualize_batch", VISUALIZE_MISTAKES["column by column"][0], "row i // ncols, column i % ncols"),
        ("check_find_the_bug_loss", LOSS_MISTAKES["the tutorial's code"][0], "axis=(1, 2, 3)"),
    ]:
        with pytest.raises(Mistake) as raised:
            getattr(exercises, checker)(fn, hint=True)
        assert fix in str(raised.value).split("Hint: ", 1)[1], (checker, str(raised.value))


# ---------------------------------------------------------------------------------------
# Notebook 5
# ---------------------------------------------------------------------------------------


def _adam(bias_correction=True, sign=-1, square_root=True, g_squared=True, new_moments=True, beta_1_swapped=False):
    def update(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        old_m, old_v = m, v
        m = (1 - beta_1) * m + beta_1 * g if beta_1_swapped else beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * (g**2 if g_squared else g)
        step_m, step_v = (m, v) if new_moments else (old_m, old_v)
        if bias_correction:
            step_m, step_v = step_m / (1 - beta_1**t), step_v / (1 - beta_2**t)
        with np.errstate(invalid="ignore"):  # v from g (not g²) can be negative
            root = np.sqrt(step_v) if square_root else step_v
        return w + sign * learning_rate * step_m / (root + epsilon), m, v
    return update


ADAM_MISTAKES = {
    "no bias correction": (_adam(bias_correction=False), "bias correction"),
    "uphill": (_adam(sign=+1), "uphill"),
    "no square root": (_adam(square_root=False), "square root"),
    "g for g²": (_adam(g_squared=False), "not its square"),
    "old moments": (_adam(new_moments=False), "old moments"),
    "beta_1 swapped": (_adam(beta_1_swapped=True), "first moment"),
    "returns w only": (lambda *args: _adam()(*args)[0], "three values"),
}


@pytest.mark.parametrize("mistake", ADAM_MISTAKES)
def test_check_adam_update_rejects(mistake):
    fn, word = ADAM_MISTAKES[mistake]
    rejects("check_adam_update", fn, word)


def test_the_adam_solution_is_keras_adam():
    rng = np.random.default_rng(1)
    gradients = rng.normal(size=(3, 4))
    variable = keras.Variable(np.ones(4, np.float32))
    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    w, m, v = np.ones(4), np.zeros(4), np.zeros(4)
    for t, g in enumerate(gradients, start=1):
        optimizer.apply_gradients([(ops.convert_to_tensor(g, "float32"), variable)])
        w, m, v = solution("check_adam_update")(w, g, m, v, t, 0.01)
    np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5)


def _step(loss_of, gradient_sign=1.0, weights=lambda model: model.trainable_weights, returns=True, times=1, sgd=False):
    def train_step(model, optimizer, x):
        with tf.GradientTape() as tape:
            x_hat, mu, log_var = model(x, training=True)
            loss = loss_of(x, x_hat, mu, log_var)
        variables = weights(model)
        gradients = [gradient_sign * g for g in tape.gradient(loss, variables)]
        for _ in range(times):
            if sgd:
                for variable, gradient in zip(variables, gradients):
                    variable.assign_sub(1e-3 * gradient)
            else:
                optimizer.apply_gradients(zip(gradients, variables))
        return loss if returns else None
    return train_step


def _per_image(x, x_hat, mu, log_var):
    return reconstruction_loss(x, x_hat) + kl_divergence(mu, log_var)


TRAIN_STEP_MISTAKES = {
    "no update": (lambda model, optimizer, x: _loss()(x, *model(x)), "did not change"),
    "gradient ascent": (_step(_loss(), gradient_sign=-1.0), "uphill"),
    "decoder only": (_step(_loss(), weights=lambda model: model.decoder.trainable_weights), "encoder"),
    "no return": (_step(_loss(), returns=False), "return the loss"),
    "per-image loss": (_step(_per_image), "shape"),
    "no KL": (_step(_loss(with_kl=False)), "no KL"),
    "per-pixel mean": (_step(_loss(reconstruction="mean")), "per-pixel"),
    "batch sum": (_step(_loss(batch=ops.sum)), "summed over the batch"),
    "the optimizer twice": (_step(_loss(), times=2), "one step of the optimizer"),
    "plain gradient descent": (_step(_loss(), sgd=True), "one step of the optimizer"),
}


@pytest.mark.parametrize("mistake", TRAIN_STEP_MISTAKES)
def test_check_train_step_rejects(mistake):
    fn, word = TRAIN_STEP_MISTAKES[mistake]
    rejects("check_train_step", fn, word)


def _my_vae(output="sigmoid", sample=True, unused_layer=False, outputs=3, bias_in_encoder=False):
    """The solution's VAE with one mistake."""
    from keras import layers

    from vae_tutorial.sampling import Sampling

    def build(image_size, latent_dim):
        class Broken(keras.Model):
            def __init__(self):
                super().__init__()
                images = keras.Input((image_size, image_size, 3))
                h = layers.Flatten()(layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(images))
                self.encoder = keras.Model(images, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)])
                self.sampling = Sampling()
                if unused_layer:  # a layer made but never called
                    self.unused = layers.Dense(4)
                    self.unused.build((None, latent_dim))
                z = keras.Input((latent_dim,))
                h = layers.Reshape((image_size // 2, image_size // 2, 8))(
                    layers.Dense((image_size // 2) ** 2 * 8, activation="relu")(z))
                x_hat = layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation=output)(h)
                self.decoder = keras.Model(z, x_hat)

            def call(self, x, training=False):
                mu, log_var = self.encoder(x, training=training)
                if bias_in_encoder:
                    mu = mu + 1.0
                z = self.sampling([mu, log_var]) if sample else mu
                return (self.decoder(z), mu, log_var)[:outputs]

        return Broken()

    return build


MY_VAE_MISTAKES = {
    "linear output": (_my_vae(output=None), "leaves [0, 1]"),
    "decodes mu": (_my_vae(sample=False), "z is not sampled"),
    "unused layer": (_my_vae(unused_layer=True), "no gradient"),
    "two outputs": (_my_vae(outputs=2), "three things"),
    "constant in the encoder": (_my_vae(bias_in_encoder=True), "mu or log_var is not zero"),
    "returns a function": (lambda image_size, latent_dim: (lambda x: x), "keras.Model"),
}


@pytest.mark.parametrize("mistake", MY_VAE_MISTAKES)
def test_check_my_vae_rejects(mistake):
    fn, word = MY_VAE_MISTAKES[mistake]
    rejects("check_my_vae", fn, word)


def test_check_my_vae_knows_the_loss_of_a_zero_model():
    x = np.full((2, 4, 4, 3), 0.25, np.float32)
    assert exercises.training._zero_weight_loss(x) == pytest.approx(48 * 0.0625)


def test_check_train_step_accepts_a_compiled_step():
    exercises.check_train_step(tf.function(solution("check_train_step")))


# ---------------------------------------------------------------------------------------
# Notebook 6
# ---------------------------------------------------------------------------------------


def _generate(draw, fixed_n=None):
    def generate(decoder, n=16, seed=0):
        z = draw((fixed_n or n, decoder.input_shape[-1]), seed)
        return np.asarray(decoder(z))
    return generate


GENERATE_MISTAKES = {
    "uniform codes": (_generate(lambda shape, seed: keras.random.uniform(shape, seed=seed)), "mean"),
    "a narrower prior": (_generate(lambda shape, seed: 0.5 * keras.random.normal(shape, seed=seed)),
                         "standard deviation"),
    "one code for all": (_generate(lambda shape, seed: ops.zeros(shape) + keras.random.normal(shape[1:], seed=seed)),
                         "all the images are the same"),
    "seed ignored": (_generate(lambda shape, seed: keras.random.normal(shape)), "seed"),
    "n ignored": (_generate(lambda shape, seed: keras.random.normal(shape, seed=seed), fixed_n=16), "shape"),
}


@pytest.mark.parametrize("mistake", GENERATE_MISTAKES)
def test_check_generate_rejects(mistake):
    fn, word = GENERATE_MISTAKES[mistake]
    rejects("check_generate", fn, word)


def _interpolate(t_of, blend_pixels=False):
    def interpolate(decoder, z_a, z_b, steps=8):
        t = t_of(steps)[:, None].astype("float32")
        if blend_pixels:
            ends = np.asarray(decoder(np.stack([z_a, z_b])))
            return (1 - t[:, :, None, None]) * ends[0] + t[:, :, None, None] * ends[1]
        return np.asarray(decoder((1 - t) * z_a + t * z_b))
    return interpolate


INTERPOLATE_MISTAKES = {
    "reversed": (_interpolate(lambda steps: np.linspace(1, 0, steps)), "from z_b to z_a"),
    "end left out": (_interpolate(lambda steps: np.arange(steps) / steps), "last image"),
    "start left out": (_interpolate(lambda steps: np.arange(1, steps + 1) / steps), "first image"),
    "one image too many": (_interpolate(lambda steps: np.linspace(0, 1, steps + 1)), "shape"),
    "pixels blended": (_interpolate(lambda steps: np.linspace(0, 1, steps), blend_pixels=True), "blends"),
}


@pytest.mark.parametrize("mistake", INTERPOLATE_MISTAKES)
def test_check_interpolate_rejects(mistake):
    fn, word = INTERPOLATE_MISTAKES[mistake]
    rejects("check_interpolate", fn, word)


# The checkers of notebooks 5 and 6 name the mistake; the answer is in the hint only, shown with hint=True.
ANSWERS = {
    "check_adam_update": ("beta_1 * m", "beta_2 * v", "1 - beta_1**t", "1 - beta_2**t", "sqrt(v_hat) + epsilon",
                          "return w, m, v"),
    "check_train_step": ("apply_gradients", "trainable_weights", "reconstruction + KL", "ops.mean",
                         "reconstruction_loss(", "kl_divergence("),
    "check_generate": ("keras.random.normal", "seed=seed", "default_rng", "(n, latent_dim)"),
    "check_interpolate": ("linspace", "(1 - t)", "+ t * z_b", "mix the codes"),
}
MISTAKES_5_6 = [(checker, name) for checker, mistakes in (("check_adam_update", ADAM_MISTAKES),
                                                           ("check_train_step", TRAIN_STEP_MISTAKES),
                                                           ("check_generate", GENERATE_MISTAKES),
                                                           ("check_interpolate", INTERPOLATE_MISTAKES))
                for name in mistakes]


@pytest.mark.parametrize("checker, mistake", MISTAKES_5_6, ids=[f"{c}-{m}" for c, m in MISTAKES_5_6])
def test_notebooks_5_and_6_name_the_mistake_and_keep_the_answer_for_the_hint(checker, mistake):
    fn, word = {"check_adam_update": ADAM_MISTAKES, "check_train_step": TRAIN_STEP_MISTAKES,
                "check_generate": GENERATE_MISTAKES, "check_interpolate": INTERPOLATE_MISTAKES}[checker][mistake]
    error = rejects(checker, fn, word)
    message = str(error)
    assert word in message, message  # the message itself names the mistake
    assert isinstance(error, Mistake) and error.hint, message
    assert f"{checker}({fn.__name__}, hint=True)" in message, message  # says how to ask for the hint
    leaked = [answer for answer in ANSWERS[checker] if answer in message]
    assert leaked == [], f"{message!r} gives away {leaked}"
    with pytest.raises(AssertionError) as raised:
        getattr(exercises, checker)(fn, hint=True)
    assert str(raised.value) == f"{message.split(' (For a hint')[0]} Hint: {error.hint}"


# ---------------------------------------------------------------------------------------
# Notebook 7
# ---------------------------------------------------------------------------------------


VARIANCE_MISTAKES = {
    "one per image": (lambda x, x_hat: ops.mean(ops.square(x - x_hat), axis=(1, 2, 3)), "one σ² per image"),
    "the std": (lambda x, x_hat: ops.sqrt(ops.mean(ops.square(x - x_hat))), "standard deviation"),
    "a sum": (lambda x, x_hat: ops.sum(ops.square(x - x_hat)), "a sum"),
    "absolute error": (lambda x, x_hat: ops.mean(ops.abs(x - x_hat)), "absolute"),
    "a ½": (lambda x, x_hat: 0.5 * ops.mean(ops.square(x - x_hat)), "half"),
}


@pytest.mark.parametrize("mistake", VARIANCE_MISTAKES)
def test_check_decoder_variance_rejects(mistake):
    fn, word = VARIANCE_MISTAKES[mistake]
    error = rejects("check_decoder_variance", fn, word)
    assert error.hint and "mean squared error" not in str(error)  # a hint on request; the answer in neither


@pytest.mark.parametrize("checker, fn", [("check_decoder_variance", VARIANCE_MISTAKES["a sum"][0])])
def test_notebook_7_hints_are_shown_on_request(checker, fn):
    with pytest.raises(AssertionError) as plain:
        getattr(exercises, checker)(fn)
    with pytest.raises(AssertionError) as hinted:
        getattr(exercises, checker)(fn, hint=True)
    assert "hint=True" in str(plain.value) and "Hint: " not in str(plain.value)
    assert "Hint: " in str(hinted.value) and plain.value.hint in str(hinted.value)


def test_a_wrong_variance_that_is_no_known_mistake_does_not_give_the_answer():
    error = rejects("check_decoder_variance", lambda x, x_hat: ops.mean(ops.square(x - x_hat)) + 1.0, "σ²")
    assert "mean squared error" not in str(error) and "derivative" in error.hint


def _nll(variance=lambda s: s**2, half=0.5, log_term=math.log, constant=True, reduce=ops.sum, sign=1):
    def nll(x, x_hat, sigma):
        per_value = half * ops.square(x - x_hat) / variance(sigma) + log_term(sigma)
        if constant:
            per_value = per_value + 0.5 * math.log(2 * math.pi)
        return sign * reduce(per_value, axis=(1, 2, 3))
    return nll


NLL_MISTAKES = {
    "no constant": (_nll(constant=False), "constant"),
    "no log σ": (_nll(log_term=lambda s: 0.0), "log σ term"),
    "log σ²": (_nll(log_term=lambda s: math.log(s**2)), "log σ²"),
    "no ½": (_nll(half=1.0), "½ is missing"),
    "σ for σ²": (_nll(variance=lambda s: s), "2σ where"),
    "a mean": (_nll(reduce=ops.mean), "mean over the values"),
    "the log-likelihood": (_nll(sign=-1), "sign"),
    "one number": (lambda *args: ops.mean(_nll()(*args)), "shape"),
}


@pytest.mark.parametrize("mistake", NLL_MISTAKES)
def test_check_gaussian_nll_rejects(mistake):
    fn, word = NLL_MISTAKES[mistake]
    error = rejects("check_gaussian_nll", fn, word)
    assert error.hint  # every mistake has a hint, shown with check_gaussian_nll(fn, hint=True)


def test_a_wrong_nll_that_is_no_known_mistake_does_not_give_the_answer():
    error = rejects("check_gaussian_nll", lambda x, x_hat, sigma: _nll()(x, x_hat, sigma) + 1.0, "NLL per image")
    assert "log 2π" not in str(error) and error.hint


def test_the_nll_solution_with_half_a_variance_is_the_reconstruction_loss_plus_a_constant():
    rng = np.random.default_rng(0)
    x, x_hat = rng.random((2, 2, 64, 64, 3), dtype=np.float32)
    sigma = math.sqrt(0.5)
    constant = 64 * 64 * 3 * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
    np.testing.assert_allclose(solution("check_gaussian_nll")(x, x_hat, sigma) - constant,
                               reconstruction_loss(x, x_hat), rtol=1e-4)


def test_solutions_have_the_scaffolds_signatures():
    scaffolds = exercises_md_scaffolds()
    for checker, (module, name) in EXERCISES.items():
        assert name in scaffolds, f"EXERCISES.md has no scaffold for {name}"
        assert inspect.signature(getattr(solutions(module), name)) == inspect.signature(scaffolds[name]), name


def exercises_md_scaffolds():
    """The scaffold functions of solutions/EXERCISES.md, by name (see test_exercises_md)."""
    namespace = {}
    for kind, code in exercises_md_blocks():
        if kind == "scaffold":
            exec(code, namespace)
    return {name: value for name, value in namespace.items() if inspect.isfunction(value)}


def exercises_md_blocks():
    """``(kind, code)`` for each block of solutions/EXERCISES.md fenced as ``python scaffold``, ``check``, ``given``."""
    return [(kind, code) for _, kind, code in exercises_md_cells()]


def exercises_md_cells():
    """``(notebook, kind, code)`` for each such block; the notebook is the number in its section's heading."""
    cells, notebook, kind, lines = [], None, None, []
    for line in (ROOT / "solutions" / "EXERCISES.md").read_text().splitlines():
        if kind is None and line.startswith("## ") and "(notebook " in line:
            notebook = int(re.search(r"\(notebook (\d+)\)", line).group(1))
        elif kind is None and line.startswith("```python "):
            kind, lines = line.split()[1], []
        elif kind is not None and line == "```":
            cells.append((notebook, kind, "\n".join(lines)))
            kind = None
        elif kind is not None:
            lines.append(line)
    return cells


def test_exercises_md_cells_run_unfilled_and_its_bugs_are_caught(capsys):
    """Each check cell of EXERCISES.md, run after its scaffold cell, says "not attempted yet"; the checker rejects
    the given code of each find-the-bug exercise. The summary table lists every checker."""
    namespace, given, checked = {}, None, []
    for kind, code in exercises_md_blocks():
        before = set(namespace)
        exec(code, namespace)
        if kind == "given":
            given = next(value for name, value in namespace.items() if name not in before and inspect.isfunction(value))
        elif kind == "check":
            assert "not attempted yet" in capsys.readouterr().out, code
            checker = re.search(r"^(check_\w+)\(", code, re.MULTILINE).group(1)
            checked.append(checker)
            if given is not None:
                with pytest.raises(AssertionError):
                    namespace[checker](given)
                given = None
    assert sorted(checked) == sorted(EXERCISES)
    table = (ROOT / "solutions" / "EXERCISES.md").read_text()
    assert all(f"| `{checker}` |" in table for checker in EXERCISES)


def _fill():
    return load_file("solutions/fill.py")


def test_fill_puts_the_solutions_into_the_scaffolds(tmp_path, capsys):
    """Notebooks made of EXERCISES.md's cells, filled by solutions/fill.py, pass every check: the solutions need
    no import beyond their scaffold cell's."""
    fill, cells = _fill(), exercises_md_cells()
    for number in sorted({notebook for notebook, _, _ in cells}):
        module = next(m for m, _ in EXERCISES.values() if m.startswith(f"nb{number:02d}_"))
        sources = [code for notebook, _, code in cells if notebook == number]
        notebook = {"cells": [{"cell_type": "code", "source": code.splitlines(keepends=True), "outputs": [],
                               "execution_count": 1, "metadata": {}} for code in sources],
                    "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        path = tmp_path / "exercises" / f"{module[2:]}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(notebook))
        scaffolds = sum(kind == "scaffold" for notebook, kind, _ in cells if notebook == number)
        assert fill.fill_notebook(path, tmp_path / "solved") == scaffolds
        namespace = {}
        for cell in json.loads((tmp_path / "solved" / path.name).read_text())["cells"]:
            exec("".join(cell["source"]), namespace)
        output = capsys.readouterr().out
        assert "not attempted" not in output and output.count("✓") == scaffolds, output


def test_fill_refuses_what_is_not_a_notebook(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("")
    assert _fill().main([str(tmp_path / "notes.txt"), "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not a notebook file" in error


def test_exercises_md_counts_the_mistakes_tested_here():
    tested = {"check_preprocess": PREPROCESS_MISTAKES, "check_visualize_batch": VISUALIZE_MISTAKES,
              "check_encoder": ENCODER_MISTAKES, "check_sampling": SAMPLING_MISTAKES, "check_decoder": DECODER_MISTAKES,
              "check_upsampled_size": UPSAMPLED_MISTAKES, "check_kl_divergence": KL_MISTAKES,
              "check_reconstruction_loss": RECONSTRUCTION_MISTAKES, "check_find_the_bug_loss": LOSS_MISTAKES,
              "check_find_the_bug_encoder": ENCODER_BUG_MISTAKES, "check_find_the_bug_decoder": DECODER_BUG_MISTAKES,
              "check_adam_update": ADAM_MISTAKES, "check_train_step": TRAIN_STEP_MISTAKES,
              "check_my_vae": MY_VAE_MISTAKES,
              "check_generate": GENERATE_MISTAKES, "check_interpolate": INTERPOLATE_MISTAKES,
              "check_decoder_variance": VARIANCE_MISTAKES, "check_gaussian_nll": NLL_MISTAKES}
    extra = {"check_encoder": 1}  # test_check_encoder_probes_the_range_of_a_subclassed_model
    text = (ROOT / "solutions" / "EXERCISES.md").read_text()
    counts = dict(re.findall(r"^\| \d+ \| [^|]+ \| `(check_\w+)` \| [^|]+ \| (\d+) \|$", text, re.MULTILINE))
    assert set(counts) == set(tested)
    for checker, mistakes in tested.items():
        assert int(counts[checker]) == len(mistakes) + extra.get(checker, 0), checker
        assert f"Mistakes it catches ({counts[checker]})" in text, checker


def test_fit_my_vae_trains_with_the_students_step_or_the_packages(capsys):
    x = np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32)
    data = tf.data.Dataset.from_tensor_slices(x).batch(8)

    def my_train_step(model, optimizer, x):
        ...

    for step in (solution("check_train_step"), my_train_step):
        history = exercises.training.fit_my_vae(exercises.training._SmallVAE(), step, data, data, 3)
        assert len(history["loss"]) == len(history["val_loss"]) == 3
        assert np.all(np.isfinite(history["loss"] + history["val_loss"]))
    output = capsys.readouterr().out
    assert output.count("s per epoch") == 2 and "my_train_step is not written yet" in output
