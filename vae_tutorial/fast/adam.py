"""Adam, with each variable's update done by one fused TensorFlow kernel.

Keras' ``Adam`` updates a variable with about ten separate element-wise operations (each a
pass over memory); TensorFlow's ``ResourceApplyAdam`` kernel does the same update in one pass,
on the CPU and on a GPU. The arithmetic is Keras' own:

    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
    w ← w − lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε)
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="vae_tutorial")
class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (same arguments, same updates up to rounding) using the fused kernel.

    Falls back to Keras' update for ``amsgrad=True``, which the kernel does not cover.
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        # Keras-private, checked against Keras 3.13.0 and 3.15.1 (tests/test_private_hooks.py): Adam keeps m and
        # v in the lists `_momentums` and `_velocities`, at the index `_get_variable_index` gives the variable.
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        # With the TensorFlow backend, Keras passes update_step the tf.Variable under each Keras variable (its
        # `.value`), and m's and v's `.value` are tf.Variables too: the kernel updates in place, through their
        # resource handles, what Keras reads and saves (same checks).
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.value.handle, v=v.value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype), use_locking=False,
        )
