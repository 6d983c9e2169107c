"""The benchmark compares like with like: its keras-io reference is the project's float32 VAE written
the usual way, and its validation loss scores every model with the same noise."""

import keras
import numpy as np
import tensorflow as tf

from conftest import load_file
from vae_tutorial import losses
from vae_tutorial.training import build_vae


def load_benchmark(name):
    return load_file(f"benchmarks/{name}.py")


def twin_models(seed=0):
    """``build_vae(fast=False)`` and the reference, small, with the same weights, noise and optimizer."""
    reference = load_benchmark("reference")
    keras.utils.set_random_seed(seed)
    project = build_vae(latent_dim=8, image_size=16, fast=False, seed=seed)
    plain = reference.build_reference(latent_dim=8, image_size=16, seed=seed)
    plain.encoder.set_weights(project.encoder.get_weights())
    plain.decoder.set_weights(project.decoder.get_weights())
    plain.sampling.seed_generator.state.assign(project.sampling.seed_generator.state)
    return project, plain


class BatchLosses(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def test_reference_trains_exactly_as_the_plain_vae():
    project, plain = twin_models()
    images = np.random.default_rng(0).random((24, 16, 16, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(images).batch(8)
    recorded = []
    for model in (project, plain):
        tracker = BatchLosses()
        model.fit(data, epochs=2, verbose=0, callbacks=[tracker], shuffle=False)
        recorded.append(tracker.losses)
    assert recorded[0][0] > recorded[0][-1]  # it trained
    np.testing.assert_array_equal(recorded[0], recorded[1])  # the same arithmetic, to the last bit
    for part in ("encoder", "decoder"):
        for a, b in zip(getattr(project, part).get_weights(), getattr(plain, part).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_validation_loss_draws_the_same_noise_for_every_model():
    run = load_benchmark("run")
    project, plain = twin_models()
    images = np.random.default_rng(1).random((20, 16, 16, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(images).batch(8)  # batches of 8, 8 and 4
    first = run.validation_loss(project, data, seed=3)
    project.sampling([tf.zeros((2, 8)), tf.zeros((2, 8))])  # the models' own generators play no part
    assert run.validation_loss(project, data, seed=3) == first
    np.testing.assert_allclose(run.validation_loss(plain, data, seed=3), first, rtol=1e-6)
    assert run.validation_loss(project, data, seed=4) != first
    mixed = build_vae(latent_dim=8, image_size=16, precision="mixed_bfloat16")  # the defaults on bfloat16 CPUs
    mixed.encoder.set_weights(project.encoder.get_weights())
    mixed.decoder.set_weights(project.decoder.get_weights())
    np.testing.assert_allclose(run.validation_loss(mixed, data, seed=3), first, rtol=0.02)  # bfloat16 rounding
    # the mean over the 20 images of the project's own loss, with the noise for batch i drawn from (seed, i)
    per_image = []
    for i, x in enumerate(data):
        mu, log_var = project.encode(x)
        z = mu + tf.exp(0.5 * log_var) * tf.random.stateless_normal(tf.shape(mu), seed=(3, i))
        per_image += list(losses.reconstruction_loss(x, project.decoder(z)) + losses.kl_divergence(mu, log_var))
    np.testing.assert_allclose(first, np.mean(per_image), rtol=1e-6)
