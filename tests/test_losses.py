import keras
import numpy as np
import pytest

from vae_tutorial.losses import kl_divergence, reconstruction_loss, vae_loss


def test_reconstruction_is_summed_per_image():
    x = np.zeros((2, 2, 2, 3), np.float32)
    x_hat = np.zeros_like(x)
    x_hat[0] = 0.5  # 12 values off by 0.5 → 12 * 0.25 = 3.0
    np.testing.assert_allclose(reconstruction_loss(x, x_hat), [3.0, 0.0])
    np.testing.assert_allclose(reconstruction_loss(x, x_hat, reduction="mean"), [0.25, 0.0])
    with pytest.raises(ValueError, match="reduction"):
        reconstruction_loss(x, x_hat, reduction="max")


def test_kl_by_hand():
    mu = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    log_var = np.array([[0.0, np.log(2.0)], [0.0, 0.0]], np.float32)
    # dim 1: -1/2 (1 + 0 - 1 - 1) = 0.5 ; dim 2: -1/2 (1 + ln 2 - 0 - 2) = (1 - ln 2) / 2
    expected = [0.5 + (1 - np.log(2.0)) / 2, 0.0]
    np.testing.assert_allclose(kl_divergence(mu, log_var), expected, rtol=1e-6)


def test_vae_loss_averages_over_the_batch():
    x = np.zeros((2, 2, 2, 3), np.float32)
    x_hat = np.zeros_like(x)
    x_hat[0] = 0.5
    mu = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    log_var = np.zeros((2, 2), np.float32)
    losses = {k: float(v) for k, v in vae_loss(x, x_hat, mu, log_var).items()}
    assert losses == pytest.approx({"reconstruction_loss": 1.5, "kl_loss": 0.25, "loss": 1.75})


def test_keras_builtin_mse_reduces_differently():
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 3)).astype(np.float32)
    x_hat = rng.random((4, 8, 8, 3)).astype(np.float32)
    ours = np.asarray(reconstruction_loss(x, x_hat))
    per_channel_mean = np.asarray(keras.losses.mean_squared_error(x, x_hat))  # averages the last axis only
    assert per_channel_mean.shape == (4, 8, 8)
    np.testing.assert_allclose(per_channel_mean.sum(axis=(1, 2)) * 3, ours, rtol=1e-5)
    everything_mean = float(keras.losses.MeanSquaredError()(x, x_hat))  # averages over all 8·8·3 values
    np.testing.assert_allclose(everything_mean * 8 * 8 * 3, ours.mean(), rtol=1e-5)
