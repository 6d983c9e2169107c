"""The Variational Autoencoder: encoder, sampling layer and decoder in one Keras model.

    x → encoder → (mu, log_var) → sampling → z → decoder → x_hat

``vae(x)`` returns ``(x_hat, mu, log_var)``. The loss lives in :meth:`VAE.compute_loss`, so
Keras' own ``fit`` and ``evaluate`` (with ``validation_data``), ``save`` and
``keras.saving.load_model`` all work unchanged.

The decoder is a Gaussian p(x | z) = N(x_hat, σ² I) whose variance is chosen by
``decoder_variance`` (see :mod:`vae_tutorial.losses`): ``"fixed"`` σ² = ½, the summed squared
error; ``"learned"``, one trainable weight log σ² saved with the model; ``"optimal"``, σ² = the
batch's mean squared error (Rybkin et al., 2021).
"""

import math

import keras
from keras import ops

from vae_tutorial.decoder import build_decoder
from vae_tutorial.encoder import build_encoder, check_sizes
from vae_tutorial.losses import REDUCTIONS, optimal_log_variance, vae_loss
from vae_tutorial.sampling import Sampling

# log_var is clipped to this range: exp(10) ≈ 22 000 is a huge variance already and
# exp(-20) ≈ 2e-9 a tiny one. Beyond it exp() overflows or gradients vanish.
LOG_VAR_MIN, LOG_VAR_MAX = -20.0, 10.0
DECODER_VARIANCES = ("fixed", "learned", "optimal")


@keras.saving.register_keras_serializable(package="vae_tutorial")
class VAE(keras.Model):
    """A convolutional VAE for (image_size, image_size, 3) images in [0, 1].

    Args:
        latent_dim: size of z (default 512).
        image_size: side of the square input images, a multiple of 4 (default 64).
        reconstruction_reduction: ``"sum"`` (correct, the default) or ``"mean"`` (the
            per-pixel mean that collapses the posterior; for demonstration).
        seed: optional int seed for the sampling noise.
        decoder_variance: ``"fixed"`` (σ² = ½, the default), ``"learned"`` or ``"optimal"``.
        beta: the weight of the KL term in the loss (1.0, the default, is the ELBO; β-VAE: > 1).
        encoder, decoder, sampling: optional prebuilt parts with the same layers and names
            (``vae_tutorial.fast`` passes faster equivalents); by default built here.

    Call arguments:
        x: images, shape (batch, image_size, image_size, 3).

    Returns:
        ``(x_hat, mu, log_var)``: the decoded sample of z, and the encoder's Gaussian parameters.
    """

    def __init__(self, latent_dim=512, image_size=64, reconstruction_reduction="sum", seed=None,
                 decoder_variance="fixed", beta=1.0, encoder=None, decoder=None, sampling=None, **kwargs):
        super().__init__(**kwargs)
        check_sizes(latent_dim, image_size)
        if reconstruction_reduction not in REDUCTIONS:
            raise ValueError(f"Argument `reconstruction_reduction` must be one of {REDUCTIONS}. "
                             f"Received: reconstruction_reduction={reconstruction_reduction!r}")
        if decoder_variance not in DECODER_VARIANCES:
            raise ValueError(f"Argument `decoder_variance` must be one of {DECODER_VARIANCES}. "
                             f"Received: decoder_variance={decoder_variance!r}")
        if decoder_variance != "fixed" and reconstruction_reduction != "sum":
            raise ValueError(f"Argument `decoder_variance` must be 'fixed' with reconstruction_reduction='mean'. "
                             f"Received: decoder_variance={decoder_variance!r}")
        if not (isinstance(beta, (int, float)) and 0 <= beta < math.inf):
            raise ValueError(f"Argument `beta` must be a number >= 0. Received: beta={beta!r}")
        self.latent_dim = latent_dim
        self.image_size = image_size
        self.reconstruction_reduction = reconstruction_reduction
        self.seed = seed
        self.decoder_variance = decoder_variance
        self.beta = float(beta)
        if decoder_variance == "learned":  # log σ², starting at σ² = ½ where it equals "fixed"
            self.decoder_log_var = self.add_weight(shape=(), name="decoder_log_var",
                                                   initializer=keras.initializers.Constant(math.log(0.5)))
        self.encoder = encoder or build_encoder(latent_dim, image_size)
        self.sampling = sampling or Sampling(seed=seed, name="sampling")
        self.decoder = decoder or build_decoder(latent_dim, image_size)
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def encode(self, x, training=False):
        """``(mu, log_var)`` for images ``x``, log_var clipped to [LOG_VAR_MIN, LOG_VAR_MAX]."""
        mu, log_var = self.encoder(x, training=training)
        return mu, ops.clip(log_var, LOG_VAR_MIN, LOG_VAR_MAX)

    def decoder_log_variance(self, x, x_hat):
        """log σ² of the Gaussian decoder for this batch, clipped like log_var; None for "fixed" (σ² = ½)."""
        if self.decoder_variance == "fixed":
            return None
        log_variance = self.decoder_log_var if self.decoder_variance == "learned" else optimal_log_variance(x, x_hat)
        return ops.clip(log_variance, LOG_VAR_MIN, LOG_VAR_MAX)

    def call(self, x, training=False):
        mu, log_var = self.encode(x, training=training)
        z = self.sampling([mu, log_var])
        return self.decoder(z, training=training), mu, log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        x_hat, mu, log_var = y_pred
        losses = vae_loss(x, x_hat, mu, log_var, self.reconstruction_reduction,
                          self.decoder_log_variance(x, x_hat), self.beta)
        self.reconstruction_loss_tracker.update_state(losses["reconstruction_loss"])
        self.kl_loss_tracker.update_state(losses["kl_loss"])
        return losses["loss"]

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        return (batch, self.image_size, self.image_size, 3), (batch, self.latent_dim), (batch, self.latent_dim)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "image_size": self.image_size,
                "reconstruction_reduction": self.reconstruction_reduction, "seed": self.seed,
                "decoder_variance": self.decoder_variance, "beta": self.beta}
