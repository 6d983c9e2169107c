"""The decoder p(x | z): a latent vector in, an image out.

z (latent_dim,) → Dense 256 → Dense 16·16·64 → reshape (16, 16, 64)
→ transposed conv 64, stride 2 → (32, 32, 64) → transposed conv 32, stride 2 → (64, 64, 32)
→ transposed conv 3, stride 1 → sigmoid → (64, 64, 3) in [0, 1].

The sigmoid is its own layer in float32, so the images come out in float32 also when the
other layers compute in bfloat16 (see ``vae_tutorial.training.build_vae``).
"""

import keras
from keras import layers

from vae_tutorial.encoder import check_sizes


def build_decoder(latent_dim=512, image_size=64, hidden_units=256, name="decoder", dtype=None):
    """A functional Keras model: z (B, latent_dim) → images (B, S, S, 3) in [0, 1], float32.

    ``dtype``: the layers' dtype policy, e.g. ``"mixed_bfloat16"`` (default: Keras' global policy).
    """
    check_sizes(latent_dim, image_size)
    side = image_size // 4
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(hidden_units, activation="relu", name="dense", dtype=dtype)(z)
    x = layers.Dense(side * side * 64, activation="relu", name="dense_to_tensor", dtype=dtype)(x)
    x = layers.Reshape((side, side, 64), name="reshape")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="deconv_1", dtype=dtype)(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="deconv_2", dtype=dtype)(x)
    x = layers.Conv2DTranspose(3, 3, strides=1, padding="same", name="image", dtype=dtype)(x)
    images = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    return keras.Model(z, images, name=name)
