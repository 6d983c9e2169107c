"""A transposed convolution computed as an ordinary convolution, for the CPU's oneDNN kernels.

:class:`SubPixelConv2DTranspose` is Keras' ``Conv2DTranspose`` with the same weights and config,
computing the same function. In bfloat16 its forward pass is an ordinary convolution (with
``depth_to_space`` for stride 2), because oneDNN fuses the bias and the ReLU into an ordinary
convolution but not into a transposed one. ``docs/speed-ups.md`` explains why the two are equal;
``benchmarks/run.py --ablation`` measures the difference.
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import layers

# A transposed convolution (kernel 3, stride 2, "same") writes output row 2m from input rows
# m-1 (kernel row 2) and m (kernel row 0), and output row 2m+1 from input row m (kernel row 1).
# So it equals a 2×2 convolution over the input padded by one row and column in front (taps:
# rows m-1 and m) with one output channel block per output phase, followed by
# ``depth_to_space``. _TAP_ROWS[phase][tap] is the kernel row each tap uses; row 3 is zeros.
_TAP_ROWS = np.array([[2, 0], [3, 1]])


@keras.saving.register_keras_serializable(package="vae_tutorial", name="SubPixelConv2DTranspose")
class SubPixelConv2DTranspose(layers.Conv2DTranspose):
    """``keras.layers.Conv2DTranspose`` that computes in bfloat16 as a convolution.

    Weights and config are those of ``Conv2DTranspose``. When the layer computes in
    bfloat16 with ``padding="same"`` and either stride 2 with a 3×3 kernel or stride 1 with an
    odd kernel, its forward pass is an ordinary convolution (with ``depth_to_space`` for
    stride 2): the same function, equal up to bfloat16 rounding, which the CPU's oneDNN kernels
    fuse with the bias and ReLU. Its backward pass is the transposed convolution's own, except that
    the bias gradient is summed in float32 (see ``_bias_gradient``). In every other case it is
    exactly ``Conv2DTranspose``.

    ``sub_pixel``: ``"auto"`` (the convolution in bfloat16 only), ``True`` (in any dtype) or
    ``False`` (never). In float32 the stride-2 convolution makes 16 multiplications where the
    transposed one makes 9, so ``"auto"`` leaves float32 to Keras (benchmarks/README.md has the figures).
    """

    def __init__(self, *args, sub_pixel="auto", **kwargs):
        super().__init__(*args, **kwargs)
        if sub_pixel != "auto" and not isinstance(sub_pixel, bool):
            raise ValueError(f"Argument `sub_pixel` must be 'auto', True or False. Received: sub_pixel={sub_pixel!r}")
        self.sub_pixel = sub_pixel

    def _convolution_form(self):
        """``"stride2"``, ``"stride1"`` or None: which ordinary convolution equals this layer."""
        # Reads the attributes as Keras' Conv2DTranspose normalizes its arguments (tuples, padding in lower case,
        # output_padding None when not given); checked against Keras 3.13.0 and 3.15.1 (tests/test_private_hooks.py).
        wanted = self.compute_dtype == "bfloat16" if self.sub_pixel == "auto" else self.sub_pixel
        if not (wanted and self.padding == "same"
                and self.data_format == "channels_last" and self.dilation_rate == (1, 1)
                and self.output_padding is None):
            return None
        if self.strides == (2, 2) and self.kernel_size == (3, 3):
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
        # Keras keeps activation="relu" as the function keras.activations.relu itself (same checks); were it not,
        # the ReLU would be applied after the convolution instead of inside, where oneDNN fuses it.
        relu = self.activation is keras.activations.relu
        outputs = _transpose_as_convolution(inputs, kernel, bias, self.strides[0], relu)
        return outputs if relu else self.activation(outputs)  # Keras turns activation=None into linear

    def get_config(self):
        return {**super().get_config(), "sub_pixel": self.sub_pixel}


# Keras names a layer's weights in a saved file after its class, so this layer takes the name of
# Keras' own: the weights of a fast model and of a plain one load into each other. Keras-private, checked against
# Keras 3.13.0 and 3.15.1 (tests/test_private_hooks.py): keras.src.saving.saving_lib stores each layer's weights
# under its class's __name__ in snake case, and a saved config, whose class_name is then "Conv2DTranspose",
# is loaded as the class its registered_name names.
SubPixelConv2DTranspose.__name__ = SubPixelConv2DTranspose.__qualname__ = "Conv2DTranspose"


def _transpose_as_convolution(inputs, kernel, bias, stride, relu):
    """``conv2d_transpose(inputs, kernel, stride, "same")`` + bias (+ ReLU if ``relu``), computed
    as an ordinary convolution. The gradients of x and kernel are the transposed convolution's own,
    as TensorFlow computes them for ``conv2d_transpose``; for stride 2 they multiply over the 9 real
    taps, not the 2×2 convolution's 16, and need no ``space_to_depth``. The bias gradient is
    :func:`_bias_gradient`'s."""

    @tf.custom_gradient
    def forward(x, kernel, *bias):
        if stride == 2:  # the 2×2 convolution with one output block per phase, then depth_to_space
            z = tf.nn.conv2d(tf.pad(x, [[0, 0], [1, 0], [1, 0], [0, 0]]), _sub_pixel_kernel(kernel),
                             strides=1, padding="VALID")
            bias = [tf.tile(b, [4]) for b in bias]  # one copy per output phase
        else:  # stride 1: the same convolution with the kernel flipped
            z = tf.nn.conv2d(x, tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]), strides=1, padding="SAME")
        if bias:
            z = tf.nn.bias_add(z, bias[0])
        if relu:
            z = tf.nn.relu(z)
        y = _depth_to_space(z) if stride == 2 else z

        def grad(dy):
            if relu:
                dy = tf.raw_ops.ReluGrad(gradients=dy, features=y)
            strides = [1, stride, stride, 1]
            dx = tf.nn.conv2d(dy, kernel, strides=strides, padding="SAME")
            dk = tf.raw_ops.Conv2DBackpropFilter(input=dy, filter_sizes=tf.shape(kernel), out_backprop=x,
                                                 strides=strides, padding="SAME")
            return (dx, dk, _bias_gradient(dy)) if bias else (dx, dk)

        return y, grad

    return forward(inputs, kernel) if bias is None else forward(inputs, kernel, bias)


def _bias_gradient(dy):
    """The sum of ``dy`` over batch, height and width: the gradient of a bias, one value per channel.

    Not ``BiasAddGrad`` in bfloat16: on the CPU it sums bfloat16 values in bfloat16, where a running
    sum stops growing once it is a few hundred times its terms. Over the 262 144 positions of
    ``deconv_2`` at batch 64 its result is almost all rounding error. Here the sum is a product with
    a row of ones, which oneDNN accumulates in float32; its rows hold several pixels each (up to 1024
    values when the channels allow), fewer and longer rows than one pixel a row. The
    partial sums, each rounded once to bfloat16, are added in float32. Other dtypes (float16 and
    float64, which BiasAddGrad sums without this loss) and unknown channel counts keep ``BiasAddGrad``.
    """
    channels = dy.shape[-1]
    if channels is None or dy.dtype not in (tf.bfloat16, tf.float32):
        return tf.raw_ops.BiasAddGrad(out_backprop=dy)
    per_image = (dy.shape[1] or 1) * (dy.shape[2] or 1)  # only the known sizes; 1 when neither is known
    pixels = 1
    while pixels * 2 * channels <= 1024 and per_image % (pixels * 2) == 0:
        pixels *= 2
    rows = tf.reshape(dy, [-1, pixels * channels])
    partial = tf.matmul(tf.ones([1, tf.shape(rows)[0]], dy.dtype), rows)  # (1, pixels · channels)
    total = tf.reduce_sum(tf.reshape(tf.cast(partial, tf.float32), [pixels, channels]), axis=0)
    return tf.cast(total, dy.dtype)


def _depth_to_space(z):
    """``tf.nn.depth_to_space(z, 2)`` written as a reshape, a transpose and a reshape: the same values.
    TensorFlow's CPU kernel copies one element at a time; these are whole-tensor operations."""
    shape = tf.shape(z)
    batch, height, width, channels = (z.shape[i] if z.shape[i] is not None else shape[i] for i in range(4))
    blocks = tf.reshape(z, [batch * height, width, 2, channels // 2])  # (b·h, w, phase row, (phase column, c))
    return tf.reshape(tf.transpose(blocks, [0, 2, 1, 3]), [batch, 2 * height, 2 * width, channels // 4])


def _sub_pixel_kernel(kernel):
    """A (3, 3, filters, in) transposed-convolution kernel → the (2, 2, in, 4·filters) kernel
    whose output channels are ordered (phase row, phase column, filter), as ``depth_to_space`` reads them."""
    filters, channels = kernel.shape[2], kernel.shape[3]
    k = tf.pad(kernel, [[0, 1], [0, 1], [0, 0], [0, 0]])  # row and column 3: zeros
    return tf.gather(tf.reshape(k, [-1]), _sub_pixel_index(filters, channels))  # one gather: no 6-d transpose


@functools.lru_cache(maxsize=None)
def _sub_pixel_index(filters, channels):
    """For each entry (tap row, tap column, in, phase row, phase column, filter) of the 2×2 kernel,
    its index in the flattened (4, 4, filters, in) padded kernel; shaped (2, 2, in, 4·filters)."""
    tr, tc, c, pr, pc, f = np.indices((2, 2, channels, 2, 2, filters), sparse=True)
    index = ((_TAP_ROWS[pr, tr] * 4 + _TAP_ROWS[pc, tc]) * filters + f) * channels + c
    return index.reshape(2, 2, channels, 4 * filters)
