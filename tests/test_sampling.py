import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_tutorial.sampling import Sampling


def test_samples_follow_the_requested_normal():
    mu = np.full((200_000, 1), 2.0, np.float32)
    log_var = np.full((200_000, 1), np.log(0.25), np.float32)
    z = np.asarray(Sampling(seed=1)([mu, log_var]))
    assert abs(z.mean() - 2.0) < 0.01 and abs(z.std() - 0.5) < 0.01
    assert abs(np.mean(((z - 2.0) / 0.5) ** 4) - 3.0) < 0.1  # normal kurtosis


def test_gradients_reach_mu_and_log_var():
    mu = tf.Variable(tf.zeros((8, 4)))
    log_var = tf.Variable(tf.zeros((8, 4)))
    with tf.GradientTape() as tape:
        z = Sampling(seed=0)([mu, log_var])
        loss = tf.reduce_sum(z**2)
    d_mu, d_log_var = tape.gradient(loss, [mu, log_var])
    assert d_mu is not None and d_log_var is not None
    assert float(tf.reduce_sum(tf.abs(d_mu))) > 0 and float(tf.reduce_sum(tf.abs(d_log_var))) > 0
    # dz/dlog_var = 0.5 * exp(0.5 log_var) * eps = 0.5 * (z - mu) here: check the formula
    np.testing.assert_allclose(d_log_var.numpy(), (2 * z * 0.5 * z).numpy(), rtol=1e-5)


def test_config_round_trip_and_validation():
    layer = Sampling(seed=5, name="s")
    clone = Sampling.from_config(layer.get_config())
    assert clone.seed == 5 and clone.name == "s"
    assert keras.saving.get_registered_object("vae_tutorial>Sampling") is Sampling
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed="x")
