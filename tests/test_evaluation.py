"""The mathematics of vae_tutorial.evaluation, and the ``evaluate`` command."""

import json
import math

import keras
import numpy as np
import pytest

from conftest import cli_here, run_cli
from vae_tutorial.evaluation import evaluate, per_pixel_mse
from vae_tutorial.evaluation import (decoder_log_variance, gaussian_log_likelihood, iwae_bound,
                                     log_importance_weights)
from vae_tutorial.evaluation import reconstruct
from vae_tutorial.losses import kl_divergence
from vae_tutorial.model import VAE

LATENT = 6


def normal_log_density(x, mean, variance):
    """log N(x; mean, variance) of each value, written out directly."""
    return -0.5 * np.log(2 * np.pi * variance) - (x - mean) ** 2 / (2 * variance)


@pytest.fixture(scope="module")
def model():
    """A small VAE (8×8 images) whose posteriors differ from the prior: the encoder's biases move
    mu and log_var away from 0, so the KL and the IWAE gap are not negligible, and mu's weights are
    scaled so that some dimensions vary over the images (active) and some do not.

    Its weights are drawn after ``keras.utils.set_random_seed``: otherwise they come from the global random
    state, and what the tests check (4 active units) would depend on which tests ran before."""
    keras.utils.set_random_seed(7)  # mu's variances in dimensions 1 and 2: 0.0006 and 0.028, far from 0.01
    vae = VAE(latent_dim=LATENT, image_size=8, seed=0)
    kernel = vae.encoder.get_layer("mu").kernel
    kernel.assign(np.asarray(kernel) * np.array([0, 1, 5, 10, 20, 40], "float32"))
    vae.encoder.get_layer("mu").bias.assign(np.linspace(-1.5, 1.5, LATENT))
    vae.encoder.get_layer("log_var").bias.assign(np.linspace(-2.0, 0.5, LATENT))
    return vae


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((40, 8, 8, 3)).astype("float32")


def test_the_likelihood_is_a_gaussian_density_with_its_constant():
    rng = np.random.default_rng(0)
    x, x_hat = rng.random((3, 4, 4, 3)), rng.random((3, 4, 4, 3))
    for variance in (0.5, 0.03):
        direct = normal_log_density(x, x_hat, variance).sum(axis=(1, 2, 3))
        np.testing.assert_allclose(gaussian_log_likelihood(x, x_hat, math.log(variance)), direct, rtol=1e-12)
    # σ² = ½: the summed squared error (the training loss) plus D/2 · log π
    squared_error = ((x - x_hat) ** 2).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(-gaussian_log_likelihood(x, x_hat, math.log(0.5)),
                               squared_error + 4 * 4 * 3 / 2 * math.log(math.pi), rtol=1e-12)


def test_the_decoder_variance_is_one_half_unless_the_model_says_otherwise(model):
    assert decoder_log_variance(model) == pytest.approx(math.log(0.5))

    class Unknown:
        decoder_variance = "free"

    with pytest.raises(ValueError, match="decoder_variance='free'"):
        decoder_log_variance(Unknown())


def test_iwae_bound_of_known_weights():
    assert iwae_bound([[2.0, 2.0, 2.0]]) == pytest.approx([2.0])
    assert iwae_bound([[0.0, math.log(3.0)]]) == pytest.approx([math.log(2.0)])  # log of the mean of 1 and 3
    # log-weights of images are thousands of nats: exp() would underflow without log-sum-exp
    assert iwae_bound([[-8000.0, -8000.0 + math.log(3.0)]]) == pytest.approx([-8000.0 + math.log(2.0)])


def test_at_k_1_the_iwae_bound_is_the_elbo_of_the_same_sample(model, images):
    result = evaluate(model, images, k=1, seed=3)
    # The same noise, drawn as evaluate's docstring promises; every density written out here.
    eps = np.random.default_rng(3).standard_normal((len(images), 1, LATENT))[:, 0]
    mu, log_var = (np.asarray(t, np.float64) for t in model.encode(images))
    z = mu + np.exp(0.5 * log_var) * eps
    x_hat = np.asarray(model.decoder(z.astype("float32")), np.float64)
    log_likelihood = normal_log_density(images, x_hat, 0.5).sum(axis=(1, 2, 3))
    log_ratio = (normal_log_density(z, 0.0, 1.0) - normal_log_density(z, mu, np.exp(log_var))).sum(axis=1)
    elbo = log_likelihood + log_ratio  # one-sample ELBO, the KL estimated from the sample
    kl = 0.5 * (mu**2 + np.exp(log_var) - 1.0 - log_var)  # closed form, (images, LATENT)
    assert result["negative_iwae"] == pytest.approx(-elbo.mean(), abs=1e-4)
    assert result["reconstruction"] == pytest.approx(-log_likelihood.mean(), abs=1e-4)
    # the reported ELBO uses the closed-form KL, as the training loss does
    assert result["kl"] == pytest.approx(kl.sum(axis=1).mean(), rel=1e-5)
    assert result["kl"] == pytest.approx(float(np.mean(kl_divergence(mu, log_var))), rel=1e-5)
    assert result["kl"] > 1.0
    assert len(result["kl_per_dimension"]) == LATENT
    np.testing.assert_allclose(result["kl_per_dimension"], kl.mean(axis=0), rtol=1e-5)
    negative_elbo = -log_likelihood.mean() + kl.sum(axis=1).mean()
    assert result["negative_elbo"] == pytest.approx(negative_elbo, abs=1e-4)
    # in bits (nats / ln 2) per value of an 8×8×3 image
    assert result["bits_per_dim"] == pytest.approx(negative_elbo / math.log(2) / 192, abs=1e-6)
    assert result["k"] == 1 and result["images"] == len(images)
    assert result["mse_per_pixel"] == pytest.approx(per_pixel_mse(images, reconstruct(model, images)), rel=1e-5)
    # active: the posterior mean varies over the images, Var > 0.01 (mu's weights were scaled by 0, 1, 5, ...)
    assert result["active_units"] == int(np.sum(mu.var(axis=0) > 0.01)) == 4
    assert set(result) >= {"negative_elbo", "reconstruction", "kl", "bits_per_dim", "negative_iwae", "k",
                           "mse_per_pixel", "active_units", "images"}
    json.dumps(result)  # plain numbers


def test_the_sampled_kl_is_the_closed_form_kl_on_average(model, images):
    noise = np.random.default_rng(0).standard_normal((4, 2000, LATENT))
    _, log_ratio = log_importance_weights(model, images[:4], noise, math.log(0.5))
    mu, log_var = model.encode(images[:4])
    sampled = -log_ratio.mean(axis=1)
    standard_error = log_ratio.std(axis=1) / math.sqrt(noise.shape[1])
    np.testing.assert_array_less(np.abs(sampled - np.asarray(kl_divergence(mu, log_var))), 4 * standard_error)


def test_the_bound_tightens_as_k_grows(model, images):
    # One set of 100 samples per image: the K = 1 and K = 10 bounds averaged over disjoint groups.
    noise = np.random.default_rng(0).standard_normal((len(images), 100, LATENT))
    log_likelihood, log_ratio = log_importance_weights(model, images, noise, math.log(0.05))
    log_w = log_likelihood + log_ratio
    bounds = {k: np.mean([iwae_bound(group) for group in np.split(log_w, 100 // k, axis=1)], axis=0)
              for k in (1, 10, 100)}
    for smaller, larger in ((1, 10), (10, 100)):
        gain = bounds[larger] - bounds[smaller]  # per image
        assert gain.mean() > 3 * gain.std() / math.sqrt(len(gain)), (smaller, larger, gain.mean())
    # and what evaluate reports (negative bounds): K = 1 ≥ K = 10 ≥ K = 100
    negative = [evaluate(model, images, k=k, log_variance=math.log(0.05))["negative_iwae"] for k in (1, 10, 100)]
    assert negative[0] > negative[1] > negative[2], negative
    # never looser than the ELBO with the closed-form KL, on average
    assert negative[2] < evaluate(model, images, k=100, log_variance=math.log(0.05))["negative_elbo"]


def test_an_array_and_a_pipeline_give_the_same_numbers(model, images):
    import tensorflow as tf

    from_array = evaluate(model, images, k=3, samples_per_step=20)
    from_pipeline = evaluate(model, tf.data.Dataset.from_tensor_slices(images).batch(7), k=3, samples_per_step=10)
    for key, value in from_array.items():  # equal up to float32 rounding: the batches differ
        np.testing.assert_allclose(from_pipeline[key], value, rtol=1e-6, err_msg=key)


def test_wrong_arguments_are_refused(model, images):
    import tensorflow as tf

    with pytest.raises(ValueError, match="Argument `k` must be a positive int. Received: k=0"):
        evaluate(model, images, k=0)
    with pytest.raises(ValueError, match=r"shape \(N, 8, 8, 3\)"):
        evaluate(model, images[:, :4])
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        evaluate(model, images * 255)
    with pytest.raises(ValueError, match="at least 2 images"):
        evaluate(model, images[:1])
    pairs = tf.data.Dataset.from_tensor_slices((images, images)).batch(8)
    with pytest.raises(ValueError, match="not tuples"):
        evaluate(model, pairs)


@pytest.mark.slow
def test_the_evaluate_command(trained_run, tmp_path):
    out, _ = trained_run
    result = run_cli("evaluate", "--model", out / "model.keras", "--data", "shapes", "--k", "4",
                     "--json", tmp_path / "eval.json")
    assert result.returncode == 0, result.stderr[-3000:]
    numbers = json.loads((tmp_path / "eval.json").read_text())
    assert numbers["images"] == 16  # the run's validation split: 10 % of 160 shapes
    assert numbers["k"] == 4 and numbers["negative_iwae"] <= numbers["negative_elbo"] + 1.0
    assert f"{numbers['negative_elbo']:.1f}" in result.stdout and "IWAE" in result.stdout
    result = run_cli("evaluate", "--model", out / "model.keras", "--data", "shapes", "--k", "1", "--n", "3")
    assert result.returncode == 0 and "3 held-out images" in result.stdout, result.stderr[-2000:]


def test_evaluate_errors_are_one_line_exit_2(small_model_file, tmp_path, capsys):
    model = small_model_file
    for args, message in ((("--model", tmp_path / "nope.keras"), "model file not found"),
                          (("--model", model, "--data", "shapes", "--json", tmp_path), "is a folder"),
                          (("--model", model, "--k", "0"), "positive integer")):
        result = cli_here(capsys, "evaluate", *args)
        assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
