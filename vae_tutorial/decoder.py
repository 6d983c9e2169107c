"""The decoder p(x | z): a latent vector in, an image out.

z (latent_dim,) → Dense 256 → Dense 16·16·64 → reshape (16, 16, 64)
→ transposed conv 64, stride 2 → (32, 32, 64) → transposed conv 32, stride 2 → (64, 64, 32)
→ transposed conv 3, stride 1 → sigmoid → (64, 64, 3) in [0, 1].

The sigmoid is its own layer in float32, so the images come out in float32 also when the
other layers compute in bfloat16 (see ``vae_tutorial.training.build_vae``).

The transposed convolutions are :class:`SubPixelConv2DTranspose`: Keras' ``Conv2DTranspose``
with the same weights, computing the same function in bfloat16 as an ordinary convolution, because
the CPU's convolution kernels (oneDNN) fuse the bias and ReLU into an ordinary convolution
but not into a transposed one. ``benchmarks/run.py --ablation`` measures the difference.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vae_tutorial.encoder import check_sizes

# A transposed convolution (kernel 3, stride 2, "same") writes output row 2m from input rows
# m-1 (kernel row 2) and m (kernel row 0), and output row 2m+1 from input row m (kernel row 1).
# So it equals a 2×2 convolution over the input padded by one row and column in front (taps:
# rows m-1 and m) with one output channel block per output phase, followed by
# ``depth_to_space``. _TAP_ROWS[phase][tap] is the kernel row each tap uses; row 3 is zeros.
_TAP_ROWS = np.array([[2, 0], [3, 1]])
_ELEMENTWISE = (keras.activations.linear, keras.activations.relu)


@keras.saving.register_keras_serializable(package="vae_tutorial")
class SubPixelConv2DTranspose(layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` that computes in bfloat16 as a convolution.

    Weights and config are those of ``Conv2DTranspose``. When the layer computes in
    bfloat16 with ``padding="same"`` and either stride 2 with a 3×3 kernel or stride 1 with an
    odd kernel (and, for stride 2, a linear or ReLU activation), it runs an ordinary
    convolution (with ``depth_to_space`` for stride 2): the same function, equal up to bfloat16
    rounding, which the CPU's oneDNN kernels fuse with the bias and ReLU. In every other case
    it is exactly ``Conv2DTranspose``.

    ``sub_pixel``: ``"auto"`` (the convolution in bfloat16 only), ``True`` (in any dtype) or
    ``False`` (never). In float32 the stride-2 convolution (16 multiplications where the
    transposed one needs 9) made training slower, so ``"auto"`` leaves float32 to Keras.
    """

    def __init__(self, *args, sub_pixel="auto", **kwargs):
        super().__init__(*args, **kwargs)
        if sub_pixel != "auto" and not isinstance(sub_pixel, bool):
            raise ValueError(f"Argument `sub_pixel` must be 'auto', True or False. Received: sub_pixel={sub_pixel!r}")
        self.sub_pixel = sub_pixel

    def _convolution_form(self):
        """``"stride2"``, ``"stride1"`` or None: which ordinary convolution equals this layer."""
        wanted = self.compute_dtype == "bfloat16" if self.sub_pixel == "auto" else self.sub_pixel
        if not (wanted and self.padding == "same"
                and self.data_format == "channels_last" and self.dilation_rate == (1, 1)
                and self.output_padding is None):
            return None
        # Stride 2 applies the activation before depth_to_space: only element-wise ones qualify.
        if self.strides == (2, 2) and self.kernel_size == (3, 3) and self.activation in _ELEMENTWISE:
            return "stride2"
        if self.strides == (1, 1) and all(k % 2 for k in self.kernel_size):
            return "stride1"
        return None

    def call(self, inputs):
        form = self._convolution_form()
        if form is None:
            return super().call(inputs)
        kernel = tf.cast(self.kernel, self.compute_dtype)  # (kh, kw, filters, in)
        bias = tf.cast(self.bias, self.compute_dtype) if self.use_bias else None
        if form == "stride1":  # the same convolution with the kernel flipped
            kernel = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
            outputs = tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME")
        else:
            outputs = tf.nn.conv2d(tf.pad(inputs, [[0, 0], [1, 0], [1, 0], [0, 0]]),
                                   _sub_pixel_kernel(kernel), strides=1, padding="VALID")
            bias = None if bias is None else tf.tile(bias, [4])  # one copy per output phase
        if bias is not None:
            outputs = tf.nn.bias_add(outputs, bias)
        outputs = self.activation(outputs)  # Keras turns activation=None into linear
        return outputs if form == "stride1" else tf.nn.depth_to_space(outputs, 2)

    def get_config(self):
        return {**super().get_config(), "sub_pixel": self.sub_pixel}


def _sub_pixel_kernel(kernel):
    """A (3, 3, filters, in) transposed-convolution kernel → the (2, 2, in, 4·filters) kernel
    whose output channels are ordered (phase row, phase column, filter), as ``depth_to_space`` reads them."""
    filters, channels = kernel.shape[2], kernel.shape[3]
    k = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])  # row and column 3: zeros
    k = tf.gather(k, _TAP_ROWS.T, axis=0)  # (tap row, phase row, kernel column 0-3, filters, in)
    k = tf.gather(k, _TAP_ROWS.T, axis=2)  # (tap row, phase row, tap col, phase col, filters, in)
    k = tf.transpose(k, [0, 2, 5, 1, 3, 4])  # (tap row, tap col, in, phase row, phase col, filters)
    return tf.reshape(k, [2, 2, channels, 4 * filters])


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
    deconv = SubPixelConv2DTranspose
    x = deconv(64, 3, strides=2, padding="same", activation="relu", name="deconv_1", dtype=dtype)(x)
    x = deconv(32, 3, strides=2, padding="same", activation="relu", name="deconv_2", dtype=dtype)(x)
    x = deconv(3, 3, strides=1, padding="same", name="image", dtype=dtype)(x)
    images = layers.Activation("sigmoid", dtype="float32", name="sigmoid")(x)
    return keras.Model(z, images, name=name)
