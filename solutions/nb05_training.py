"""Notebook 5, training: the instructor's solutions."""

import numpy as np
import tensorflow as tf
from keras import ops

from vae_tutorial.losses import kl_divergence, reconstruction_loss


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
