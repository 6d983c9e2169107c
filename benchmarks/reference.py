"""The plain references the benchmark compares against: the same VAE, written the usual way.

``KerasIOVAE`` is the keras-io example's style (``examples/generative/vae.py``): a custom
``train_step`` with ``tf.GradientTape``, float32, Keras' ``Adam``, no XLA. Architecture and
loss are identical to ``vae_tutorial``'s: the same encoder and decoder layers, the summed
squared error per image plus the KL divergence, both averaged over the batch.

``torch_vae()`` is the same model in PyTorch (eager, float32), for when torch is installed.
"""

import keras
import tensorflow as tf
from keras import layers


class ReferenceSampling(layers.Layer):
    """z = mu + exp(log_var / 2) * eps, as in the keras-io example (with a seed)."""

    def __init__(self, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, log_var = inputs
        eps = keras.random.normal(tf.shape(mu), seed=self.seed_generator)
        return mu + tf.exp(0.5 * log_var) * eps


def reference_encoder(latent_dim=512, image_size=64):
    images = keras.Input(shape=(image_size, image_size, 3))
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    return keras.Model(images, [layers.Dense(latent_dim)(x), layers.Dense(latent_dim)(x)], name="encoder")


def reference_decoder(latent_dim=512, image_size=64):
    side = image_size // 4
    z = keras.Input(shape=(latent_dim,))
    x = layers.Dense(256, activation="relu")(z)
    x = layers.Dense(side * side * 64, activation="relu")(x)
    x = layers.Reshape((side, side, 64))(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    images = layers.Conv2DTranspose(3, 3, padding="same", activation="sigmoid")(x)
    return keras.Model(z, images, name="decoder")


class KerasIOVAE(keras.Model):
    """The keras-io VAE pattern: encoder, decoder, and the loss in ``train_step``."""

    def __init__(self, latent_dim=512, image_size=64, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = reference_encoder(latent_dim, image_size)
        self.decoder = reference_decoder(latent_dim, image_size)
        self.sampling = ReferenceSampling(seed)
        self.total_loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def losses_of(self, data):
        mu, log_var = self.encoder(data)
        log_var = tf.clip_by_value(log_var, -20.0, 10.0)
        reconstruction = self.decoder(self.sampling([mu, log_var]))
        reconstruction_loss = tf.reduce_mean(tf.reduce_sum(tf.square(data - reconstruction), axis=(1, 2, 3)))
        kl_loss = tf.reduce_mean(-0.5 * tf.reduce_sum(1 + log_var - tf.square(mu) - tf.exp(log_var), axis=1))
        return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss

    def train_step(self, data):
        with tf.GradientTape() as tape:
            total_loss, reconstruction_loss, kl_loss = self.losses_of(data)
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self.update(total_loss, reconstruction_loss, kl_loss)

    def test_step(self, data):
        return self.update(*self.losses_of(data))

    def update(self, total_loss, reconstruction_loss, kl_loss):
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def build_reference(learning_rate=1e-3, latent_dim=512, image_size=64, seed=0):
    model = KerasIOVAE(latent_dim, image_size, seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def torch_vae(latent_dim=512):
    """The same VAE in PyTorch: ``(model, train_step(batch_nhwc_numpy) -> loss)``."""
    import torch
    from torch import nn

    class TorchVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(16 * 16 * 64, 256), nn.ReLU())
            self.mu, self.log_var = nn.Linear(256, latent_dim), nn.Linear(256, latent_dim)
            self.decoder = nn.Sequential(
                nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, 16 * 16 * 64), nn.ReLU(),
                nn.Unflatten(1, (64, 16, 16)),
                nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(32, 3, 3, padding=1), nn.Sigmoid())

        def forward(self, x):
            h = self.encoder(x)
            mu, log_var = self.mu(h), self.log_var(h).clamp(-20.0, 10.0)
            z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)
            return self.decoder(z), mu, log_var

    torch.manual_seed(0)
    model = TorchVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(batch):
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()
        reconstruction, mu, log_var = model(x)
        reconstruction_loss = (x - reconstruction).square().sum(dim=(1, 2, 3)).mean()
        kl_loss = (-0.5 * (1 + log_var - mu.square() - log_var.exp()).sum(dim=1)).mean()
        loss = reconstruction_loss + kl_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return model, train_step
