"""Notebook 5, training: the instructor's solutions."""

import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops

from vae_tutorial.losses import kl_divergence, reconstruction_loss
from vae_tutorial.sampling import Sampling


def my_adam_update(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One Adam step at step t (from 1): the new (w, m, v)."""
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_hat = m / (1 - beta_1**t)
    v_hat = v / (1 - beta_2**t)
    w = w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return w, m, v


def my_train_step(model, optimizer, x):
    """One optimizer step on the VAE loss for the images x; returns the loss before the step."""
    with tf.GradientTape() as tape:
        x_hat, mu, log_var = model(x, training=True)
        loss = ops.mean(reconstruction_loss(x, x_hat) + kl_divergence(mu, log_var))
    gradients = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    return loss


def my_vae(image_size, latent_dim):
    """A new VAE for images (image_size, image_size, 3): its call returns (x_hat, mu, log_var)."""

    class MyVAE(keras.Model):
        def __init__(self):
            super().__init__()
            images = keras.Input((image_size, image_size, 3))
            h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(images)
            h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
            h = layers.Flatten()(h)
            self.encoder = keras.Model(images, [layers.Dense(latent_dim)(h), layers.Dense(latent_dim)(h)])
            self.sampling = Sampling()
            small = image_size // 4
            z = keras.Input((latent_dim,))
            h = layers.Dense(small * small * 64, activation="relu")(z)
            h = layers.Reshape((small, small, 64))(h)
            h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
            h = layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="sigmoid")(h)
            self.decoder = keras.Model(z, h)

        def call(self, x, training=False):
            mu, log_var = self.encoder(x, training=training)
            z = self.sampling([mu, log_var])
            return self.decoder(z, training=training), mu, log_var

    return MyVAE()
