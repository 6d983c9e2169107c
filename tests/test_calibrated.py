"""The Gaussian decoder with a variance: fixed (the summed squared error), learned, optimal; and β."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import norm

from vae_tutorial.losses import LOG_PI, gaussian_nll, optimal_log_variance, reconstruction_loss, vae_loss
from vae_tutorial.model import VAE
from vae_tutorial.saving import load_vae
from vae_tutorial.training import build_vae

D = 8 * 8 * 3


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 3)).astype("float32")
    x_hat = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1).astype("float32")
    mu = rng.standard_normal((4, 5)).astype("float32")
    log_var = (0.3 * rng.standard_normal((4, 5))).astype("float32")
    return x, x_hat, mu, log_var


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((16, 64, 64, 3)).astype("float32")


@pytest.mark.parametrize("variance", [0.5, 0.01, 3.0])
def test_gaussian_nll_is_the_negative_log_density(batch, variance):
    x, x_hat, _, _ = batch
    direct = -norm.logpdf(x, loc=x_hat, scale=math.sqrt(variance)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(gaussian_nll(x, x_hat, math.log(variance)), direct, rtol=1e-5)


def test_the_summed_squared_error_is_the_nll_at_variance_one_half_less_its_constant(batch):
    x, x_hat, _, _ = batch
    nll = np.asarray(gaussian_nll(x, x_hat, math.log(0.5)))
    np.testing.assert_allclose(nll - D / 2 * LOG_PI, reconstruction_loss(x, x_hat), rtol=1e-5)


def test_optimal_variance_is_the_mean_squared_error_and_minimises_the_nll(batch):
    x, x_hat, _, _ = batch
    mse = np.mean((x.astype(np.float64) - x_hat) ** 2)
    best = float(optimal_log_variance(x, x_hat))
    assert math.exp(best) == pytest.approx(mse, rel=1e-5)
    mean_nll = lambda log_variance: float(np.mean(gaussian_nll(x, x_hat, log_variance)))  # noqa: E731
    for step in (-0.3, -0.01, 0.01, 0.3):
        assert mean_nll(best) < mean_nll(best + step)
    # at the optimum the batch-mean NLL is D/2 · (log(2π MSE) + 1)
    assert mean_nll(best) == pytest.approx(D / 2 * (math.log(2 * math.pi * mse) + 1), rel=1e-5)


def test_vae_loss_with_a_variance_and_beta(batch):
    x, x_hat, mu, log_var = batch
    fixed = {k: float(v) for k, v in vae_loss(x, x_hat, mu, log_var).items()}
    same = {k: float(v) for k, v in vae_loss(x, x_hat, mu, log_var, decoder_log_var=math.log(0.5)).items()}
    assert same == pytest.approx(fixed, rel=1e-5)  # the three modes agree at σ² = ½
    calibrated = vae_loss(x, x_hat, mu, log_var, decoder_log_var=math.log(0.01), beta=4.0)
    expected = float(np.mean(gaussian_nll(x, x_hat, math.log(0.01)))) - D / 2 * LOG_PI
    assert float(calibrated["reconstruction_loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(calibrated["loss"]) == pytest.approx(expected + 4.0 * fixed["kl_loss"], rel=1e-5)


def test_fixed_keeps_the_summed_squared_error_exactly(images):
    model = VAE(latent_dim=8, seed=0)
    assert model.decoder_variance == "fixed" and model.beta == 1.0
    assert model.decoder_log_variance(images, images) is None
    x_hat, mu, log_var = model(images[:4])
    squared = tf.reduce_mean(tf.reduce_sum(tf.square(images[:4] - x_hat), axis=(1, 2, 3)))
    kl = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + log_var - tf.square(mu) - tf.exp(log_var), axis=-1))
    loss = model.compute_loss(x=images[:4], y_pred=(x_hat, mu, log_var))
    assert float(loss) == float(squared + kl)  # bit for bit: the loss of the models trained so far


def test_optimal_model_uses_the_batch_mse_and_learned_starts_at_one_half(images):
    optimal = VAE(latent_dim=8, seed=0, decoder_variance="optimal")
    x_hat, mu, log_var = optimal(images[:4])
    mse = float(tf.reduce_mean(tf.square(images[:4] - x_hat)))
    assert math.exp(float(optimal.decoder_log_variance(images[:4], x_hat))) == pytest.approx(mse, rel=1e-5)
    learned = VAE(latent_dim=8, seed=0, decoder_variance="learned")
    assert float(learned.decoder_log_variance(images[:4], x_hat)) == pytest.approx(math.log(0.5))
    assert [w.name for w in learned.trainable_weights].count("decoder_log_var") == 1
    assert "decoder_log_var" not in [w.name for w in optimal.weights]


def test_beta_weighs_the_kl_in_the_loss(images):
    x = images[:4]
    plain, heavy = VAE(latent_dim=8, seed=0), VAE(latent_dim=8, seed=0, beta=3.0)
    heavy.set_weights(plain.get_weights())
    y_pred = plain(x)
    losses = vae_loss(x, *y_pred)
    expected = float(losses["reconstruction_loss"]) + 3.0 * float(losses["kl_loss"])
    assert float(heavy.compute_loss(x=x, y_pred=y_pred)) == pytest.approx(expected, rel=1e-6)


def test_learned_variance_trains_and_is_saved_and_loaded(images, tmp_path):
    model = build_vae(latent_dim=8, decoder_variance="learned", beta=2.0, fast=False)
    before = float(model.decoder_log_var)
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=2, verbose=0, shuffle=False)
    after = float(model.decoder_log_var)
    assert after != before  # a trainable weight, moved by the gradient
    model.save(tmp_path / "learned.keras")
    loaded = load_vae(tmp_path / "learned.keras")
    assert (loaded.decoder_variance, loaded.beta) == ("learned", 2.0)
    assert float(loaded.decoder_log_var) == after


@pytest.mark.parametrize("mode", ["learned", "optimal"])
def test_fast_and_plain_models_load_each_others_weights(images, tmp_path, mode):
    x = images[:4]
    fast = build_vae(latent_dim=8, decoder_variance=mode, fast=True, precision="float32")
    plain = build_vae(latent_dim=8, decoder_variance=mode, fast=False)
    assert [w.name for w in fast.weights] == [w.name for w in plain.weights]
    if mode == "learned":
        fast.decoder_log_var.assign(-1.5)
    fast.save(tmp_path / "fast.keras")
    plain.load_weights(tmp_path / "fast.keras")
    for a, b in zip(fast.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    y_pred = plain(x)
    np.testing.assert_allclose(float(fast.compute_loss(x=x, y_pred=y_pred)),
                               float(plain.compute_loss(x=x, y_pred=y_pred)), rtol=1e-6)
    plain.save(tmp_path / "plain.keras")
    again = build_vae(latent_dim=8, decoder_variance=mode, fast=True, precision="float32")
    again.load_weights(tmp_path / "plain.keras")
    assert load_vae(tmp_path / "plain.keras").decoder_variance == mode
    if mode == "learned":
        assert float(again.decoder_log_var) == -1.5


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="decoder_variance"):
        VAE(latent_dim=4, decoder_variance="free")
    with pytest.raises(ValueError, match="decoder_variance"):
        VAE(latent_dim=4, decoder_variance="optimal", reconstruction_reduction="mean")
    with pytest.raises(ValueError, match="beta"):
        VAE(latent_dim=4, beta=-1.0)
    config = VAE(latent_dim=3, decoder_variance="optimal", beta=4.0).get_config()
    restored = VAE.from_config(config)
    assert (restored.decoder_variance, restored.beta) == ("optimal", 4.0)


def test_the_decoder_variance_is_clipped(images):
    model = VAE(latent_dim=4, decoder_variance="learned")
    model.decoder_log_var.assign(-1000.0)
    assert float(model.decoder_log_variance(images, images)) == -20.0
    assert np.isfinite(float(model.compute_loss(x=images[:2], y_pred=model(images[:2]))))


def test_keras_optimizer_moves_learned_variance_towards_the_mse(images):
    """A model whose only trainable weight is σ: gradient descent finds σ² = MSE."""
    model = VAE(latent_dim=4, seed=0, decoder_variance="learned")
    x = images[:8]
    y_pred = model(x)
    mse = float(tf.reduce_mean(tf.square(x - y_pred[0])))
    optimizer = keras.optimizers.Adam(0.05)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y_pred=y_pred)
        optimizer.apply([tape.gradient(loss, model.decoder_log_var)], [model.decoder_log_var])

    for _ in range(300):
        step()
    assert math.exp(float(model.decoder_log_var)) == pytest.approx(mse, rel=0.02)


def test_evaluation_reads_the_models_own_decoder_variance(images):
    from vae_tutorial.evaluation import decoder_log_variance, evaluate

    x = images[:6]
    assert decoder_log_variance(VAE(latent_dim=4)) == pytest.approx(math.log(0.5))
    learned = VAE(latent_dim=4, decoder_variance="learned")
    learned.decoder_log_var.assign(-3.0)
    assert decoder_log_variance(learned) == pytest.approx(-3.0)
    optimal = VAE(latent_dim=4, seed=0, decoder_variance="optimal")
    with pytest.raises(ValueError, match="data"):
        decoder_log_variance(optimal)
    # the per-value MSE of the images against their decodings of one z ~ q(z | x) each, noise from the seed
    mu, log_var = (np.asarray(t, np.float64) for t in optimal.encode(x))
    z = mu + np.exp(0.5 * log_var) * np.random.default_rng(7).standard_normal(mu.shape)
    mse = np.mean((x - np.asarray(optimal.decoder(z.astype("float32")), np.float64)) ** 2)
    assert decoder_log_variance(optimal, x, seed=7) == pytest.approx(math.log(mse), abs=1e-6)
    result = evaluate(optimal, x, k=2, seed=7)
    assert result["decoder_log_variance"] == pytest.approx(math.log(mse), abs=1e-6)
    fixed_sigma = evaluate(optimal, x, k=2, seed=7, log_variance=math.log(0.5))
    assert result["negative_elbo"] < fixed_sigma["negative_elbo"]  # σ² at its optimum gives the better bound


def test_a_run_folder_from_before_the_option_is_a_fixed_variance_run(tmp_path):
    import json

    from vae_tutorial.training import run_state, RunFolderError

    old = {"data": "shapes", "shapes": 160, "latent_dim": 8, "batch_size": 32, "learning_rate": 0.001,
           "validation_split": 0.1, "seed": 0, "image_size": 64, "epochs": 1, "finished": False}
    (tmp_path / "config.json").write_text(json.dumps(old))
    assert run_state(tmp_path, {**old, "decoder_variance": "fixed", "beta": 1.0}, 1) == "new"
    with pytest.raises(RunFolderError, match="decoder_variance: 'fixed', now 'optimal'"):
        run_state(tmp_path, {**old, "decoder_variance": "optimal", "beta": 1.0}, 1)
    with pytest.raises(RunFolderError, match="beta: 1.0, now 4.0"):
        run_state(tmp_path, {**old, "decoder_variance": "fixed", "beta": 4.0}, 1)


@pytest.mark.slow
def test_train_with_a_learned_variance_from_the_command_line(tmp_path, capsys):
    import json

    from tests.conftest import cli_here, run_cli

    out = tmp_path / "learned"
    common = ("train", "--data", "shapes", "--shapes", "96", "--epochs", "1", "--latent-dim", "8",
              "--batch-size", "32", "--out", out)
    result = run_cli(*common, "--decoder-variance", "learned", "--beta", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    # The validation reconstruction term is a log-likelihood here: named so, and no per-pixel MSE made of it.
    assert "reconstruction" in result.stdout and "negative log-likelihood per image" in result.stdout
    for line in result.stdout.splitlines():
        if "per-pixel MSE" in line:
            assert "decoded from their mean codes" in line, line
    config = json.loads((out / "config.json").read_text())
    assert (config["decoder_variance"], config["beta"]) == ("learned", 2.0)
    model = load_vae(out / "model.keras")
    assert (model.decoder_variance, model.beta) == ("learned", 2.0)
    assert float(model.decoder_log_var) != pytest.approx(math.log(0.5), abs=1e-6)  # trained
    # the errors need no process of their own: main() in this one
    other = cli_here(capsys, *common, "--decoder-variance", "optimal", "--beta", "2")
    assert other.returncode == 2 and "decoder_variance: 'learned', now 'optimal'" in other.stderr
    assert other.stderr.count("\n") == 1
    bad = cli_here(capsys, *common, "--decoder-variance", "free")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and bad.stderr.count("\n") == 1
    negative = cli_here(capsys, *common, "--beta", "-1")
    assert negative.returncode == 2 and "expected a number >= 0" in negative.stderr
    evaluated = run_cli("evaluate", "--model", out / "model.keras", "--data", "shapes", "--k", "2",
                        "--json", tmp_path / "e.json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert "decoder variance: learned" in evaluated.stdout
    numbers = json.loads((tmp_path / "e.json").read_text())
    assert numbers["decoder_log_variance"] == pytest.approx(float(model.decoder_log_var), abs=1e-6)
