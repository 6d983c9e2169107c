"""The sampling layer: the reparameterisation trick.

    z = mu + exp(0.5 * log_var) * eps,   eps ~ N(0, I)

The randomness sits in ``eps``, outside the path from the encoder to ``z``, so gradients
flow to ``mu`` and ``log_var``.

Under ``tf.distribute`` every replica holds a copy of the seed state, so the replica's number
is added to the seed: each replica's part of the batch gets its own noise.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="vae_tutorial")
class Sampling(keras.layers.Layer):
    """Draws ``z`` from N(mu, exp(log_var)) with the reparameterisation trick.

    Args:
        seed: optional int seed for the noise ``eps``.

    Call arguments:
        inputs: a pair ``(mu, log_var)``, each of shape (batch, latent_dim).

    Returns:
        ``z``, of shape (batch, latent_dim).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, log_var = inputs
        seed = self.seed_generator.next()
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = seed + tf.cast(tf.stack([replica.replica_id_in_sync_group, 0]), seed.dtype)
        eps = tf.random.stateless_normal(ops.shape(mu), seed=seed, dtype=mu.dtype)  # what keras.random.normal does
        return mu + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
