"""The decoder p(x | z): a latent vector in, an image out.

z (latent_dim,) → Dense 256 → Dense 16·16·64 → reshape (16, 16, 64)
→ transposed conv 64, stride 2 → (32, 32, 64) → transposed conv 32, stride 2 → (64, 64, 32)
→ transposed conv 3, stride 1, sigmoid → (64, 64, 3) in [0, 1].
"""

import keras
from keras import layers

from vae_tutorial.encoder import check_sizes


def build_decoder(latent_dim=512, image_size=64, hidden_units=256, name="decoder"):
    """A functional Keras model: z (B, latent_dim) → images (B, S, S, 3) in [0, 1]."""
    check_sizes(latent_dim, image_size)
    side = image_size // 4
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(hidden_units, activation="relu", name="dense")(z)
    x = layers.Dense(side * side * 64, activation="relu", name="dense_to_tensor")(x)
    x = layers.Reshape((side, side, 64), name="reshape")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="deconv_1")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="deconv_2")(x)
    images = layers.Conv2DTranspose(3, 3, strides=1, padding="same", activation="sigmoid", name="image")(x)
    return keras.Model(z, images, name=name)
