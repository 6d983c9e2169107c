"""The decoder p(x | z): a latent vector in, an image out.

    z                                                   (latent_dim,)
    → Dense 256, ReLU                                   (256,)
    → Dense 16·16·64, ReLU                              (16384,)
    → Reshape                                           (16, 16, 64)
    → Conv2DTranspose 64 filters, 3×3, stride 2, ReLU   (32, 32, 64)
    → Conv2DTranspose 32 filters, 3×3, stride 2, ReLU   (64, 64, 32)
    → Conv2DTranspose 3 filters, 3×3, stride 1          (64, 64, 3)
    → sigmoid                                           (64, 64, 3), in (0, 1)

The sigmoid puts every pixel in (0, 1), the range of the input images.
"""

import keras
from keras import layers

from vae_tutorial.encoder import check_sizes


def build_decoder(latent_dim=512, image_size=64, hidden_units=256, name="decoder"):
    """A functional Keras model: z (batch, latent_dim) → images (batch, S, S, 3) in [0, 1]."""
    check_sizes(latent_dim, image_size)
    side = image_size // 4
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense(hidden_units, activation="relu", name="dense")(z)
    x = layers.Dense(side * side * 64, activation="relu", name="dense_to_tensor")(x)
    x = layers.Reshape((side, side, 64), name="reshape")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="deconv_1")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="deconv_2")(x)
    x = layers.Conv2DTranspose(3, 3, padding="same", name="image")(x)
    images = layers.Activation("sigmoid", name="sigmoid")(x)
    return keras.Model(z, images, name=name)
