"""The sampling layer: the reparameterisation trick.

    z = mu + exp(0.5 * log_var) * eps,   eps ~ N(0, I)

The randomness sits in ``eps``, which does not depend on ``mu`` or ``log_var``: z is a
differentiable function of them, so gradients flow from the decoder back to the encoder.
"""

import keras
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
        eps = keras.random.normal(ops.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
        return mu + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
