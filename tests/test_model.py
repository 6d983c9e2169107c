import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_tutorial.losses import vae_loss
from vae_tutorial.model import VAE
from vae_tutorial.saving import load_vae, ModelFileError
from vae_tutorial.training import build_vae


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((16, 64, 64, 3)).astype("float32")


def test_call_returns_reconstruction_mu_log_var(images):
    model = VAE(latent_dim=8, seed=0)
    x_hat, mu, log_var = model(images[:4])
    assert x_hat.shape == (4, 64, 64, 3) and mu.shape == (4, 8) and log_var.shape == (4, 8)
    assert 0.0 <= float(tf.reduce_min(x_hat)) and float(tf.reduce_max(x_hat)) <= 1.0


def test_compute_loss_is_the_documented_loss(images):
    model = VAE(latent_dim=8, seed=0)
    y_pred = model(images[:4])
    expected = vae_loss(images[:4], *y_pred)["loss"]
    np.testing.assert_allclose(float(model.compute_loss(x=images[:4], y_pred=y_pred)), float(expected), rtol=1e-6)


def test_fit_and_evaluate_report_all_metrics(images):
    model = build_vae(latent_dim=8, learning_rate=1e-3)
    ds = tf.data.Dataset.from_tensor_slices(images).batch(8)
    history = model.fit(ds, validation_data=ds, epochs=2, verbose=0, shuffle=False)
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss",
            "val_kl_loss"} <= set(history.history)
    assert history.history["loss"][1] < history.history["loss"][0]
    result = model.evaluate(ds, return_dict=True, verbose=0)
    assert result["loss"] == pytest.approx(result["reconstruction_loss"] + result["kl_loss"], rel=1e-4)


@pytest.mark.parametrize("settings", [{"fast": False}, {"precision": "float32"}, {"precision": "mixed_bfloat16"}],
                         ids=["plain", "fast-float32", "fast-bfloat16"])
def test_keras_file_round_trip_loads_the_float32_model_with_the_same_weights(settings, images, tmp_path):
    # The contract (saving.load_vae): a saved model loads as the plain float32 VAE holding exactly the saved weights.
    # So a model that computed in float32 loads with identical outputs; one that computed in mixed bfloat16 loads
    # as its float32 counterpart (tests/test_fast.py bounds the difference layer by layer).
    model = build_vae(latent_dim=8, **settings)
    model.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded) is VAE and loaded.latent_dim == 8
    assert {layer.compute_dtype for part in (loaded.encoder, loaded.decoder) for layer in part.layers} == {"float32"}
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a, b)  # Adam's step count and moments: training can go on
    twin = build_vae(latent_dim=8, fast=False)  # the plain float32 model, given the same weights
    twin.set_weights(model.get_weights())
    z = np.random.default_rng(1).standard_normal((4, 8)).astype("float32")
    computed_in_float32 = model.encoder.get_layer("conv_1").compute_dtype == "float32"
    for reference in [twin] + ([model] if computed_in_float32 else []):
        np.testing.assert_array_equal(loaded.decoder(z), reference.decoder(z))
        for a, b in zip(loaded.encode(images[:4]), reference.encode(images[:4])):
            np.testing.assert_array_equal(a, b)
    assert load_vae(tmp_path / "m.keras").latent_dim == 8


def test_load_vae_errors_are_one_line(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_vae(tmp_path / "missing.keras")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ModelFileError, match="not a .keras"):
        load_vae(tmp_path / "notes.txt")
    (tmp_path / "bad.keras").write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="corrupt or truncated"):
        load_vae(tmp_path / "bad.keras")


def test_log_var_is_clipped_to_a_safe_range(images):
    model = VAE(latent_dim=4)
    head = model.encoder.get_layer("log_var")
    kernel, bias = head.get_weights()
    head.set_weights([kernel, np.full_like(bias, 500.0)])  # exp(500) would overflow
    x_hat, mu, log_var = model(images[:2])
    assert float(tf.reduce_max(log_var)) == 10.0 and np.isfinite(np.asarray(x_hat)).all()


def test_config_is_validated():
    with pytest.raises(ValueError, match="reconstruction_reduction"):
        VAE(reconstruction_reduction="median")
    assert VAE.from_config(VAE(latent_dim=3, reconstruction_reduction="mean").get_config()).latent_dim == 3
