"""vae_tutorial.fast: each speed-up computes the same function as the plain Keras it replaces."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_tutorial.fast import FusedAdam, has_bfloat16_units
from vae_tutorial.fast.subpixel import SubPixelConv2DTranspose, _bias_gradient, _depth_to_space
from vae_tutorial.model import VAE
from vae_tutorial.saving import load_vae
from vae_tutorial.training import build_vae


CASES = [  # (filters, kernel, strides, padding, activation, the convolution form expected[, more arguments])
    (32, 3, 2, "same", "relu", "stride2"),
    (3, 3, 1, "same", None, "stride1"),
    (4, 5, 1, "same", "relu", "stride1"),
    (4, (3, 5), 1, "same", "relu", "stride1"),
    (5, 3, 2, "same", "softmax", "stride2"),  # not element-wise: applied after depth_to_space
    (3, 3, 1, "same", "sigmoid", "stride1"),
    (4, 3, 2, "same", "relu", "stride2", {"use_bias": False}),
    (4, 3, 1, "same", None, "stride1", {"use_bias": False}),
    (4, 4, 2, "same", None, None),  # no convolution form: Keras computes it
    (4, 4, 1, "same", None, None),
    (4, 3, 2, "valid", "relu", None),
    (4, 3, 2, "same", "relu", None, {"output_padding": 1}),
]


def _pair(filters, kernel, strides, padding, activation, dtype, x, **more):
    """A Keras Conv2DTranspose (float32) and a SubPixelConv2DTranspose with the same weights."""
    keras.utils.set_random_seed(1)
    kwargs = dict(strides=strides, padding=padding, activation=activation, bias_initializer="random_normal", **more)
    plain = keras.layers.Conv2DTranspose(filters, kernel, dtype="float32", **kwargs)
    fast = SubPixelConv2DTranspose(filters, kernel, sub_pixel=True, dtype=dtype, **kwargs)
    plain(x), fast(x)
    fast.set_weights(plain.get_weights())
    return plain, fast


@pytest.mark.parametrize("case", CASES)
def test_sub_pixel_layer_equals_conv2d_transpose_with_its_gradients(case):
    filters, kernel, strides, padding, activation, form, *more = case
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 8, 8, 6)), tf.float32)
    plain, fast = _pair(filters, kernel, strides, padding, activation, "float32", x, **(more[0] if more else {}))
    assert fast._convolution_form() == form
    _assert_same_outputs_and_gradients(plain, fast, x)


def _assert_same_outputs_and_gradients(plain, fast, x):
    for a, b in zip(*(_output_and_gradients(layer, x) for layer in (plain, fast))):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


# Rounding error of mixed bfloat16. bfloat16 keeps 8 significant bits: rounding to nearest changes a value by a
# relative error δ with |δ| ≤ u = 2⁻⁸. With bfloat16 units, oneDNN multiplies bfloat16 inputs and weights exactly
# and adds the products in float32 (each addition off by at most 2⁻²⁴ of the running sum). A layer
# y = act(Σ w·x + b) computed in bfloat16 from float32 x rounds each x and w, sums, rounds the sum, adds the rounded
# bias and rounds the result. Taking rounding errors as independent with mean zero (the probabilistic model of
# Higham and Mary, SIAM J. Sci. Comput. 41(5), 2019; δ uniform, standard deviation u/√3), to first order in u
#     |y_bfloat16 − y_float32| ≤ λ·u·√(2/3 · Σ(w·x)²) + 2λ·√n·2⁻²⁴·Σ|w·x| + u·(|Σ w·x| + |b| + |Σ w·x + b|)
# except with probability below 2·exp(−λ²/2) per value (λ = 8: 3e-14): the two roundings of each of the n
# products, the float32 sums (ours and the reference's), and the three roundings of results. ReLU and sigmoid are
# 1-Lipschitz, so the bound holds after them. The gradients are sums of the same kind over the upstream gradient
# dy (rounded to bfloat16 too). The worst-case bound would grow with n rather than √n: for the 16,384 inputs of the
# encoder's dense layer it exceeds the values themselves, so it could not tell a wrong layer from a right one. A CPU
# without bfloat16 units adds in bfloat16 (TensorFlow's own kernels), so these bounds apply only where units exist.
U, LAMBDA = 2.0**-8, 8.0
NEEDS_BFLOAT16_UNITS = pytest.mark.skipif(
    not has_bfloat16_units(open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""),
    reason="this CPU has no bfloat16 units: TensorFlow's bfloat16 kernels add in bfloat16 here, not in float32, "
           "so the rounding bounds do not apply (and build_vae() computes in float32 here)")


def _rounding_bound(square_sum, absolute_sum, n, operands, rounded_once):
    """The bound above for sums of n products, each of ``operands`` rounded factors, whose results
    ``rounded_once`` (a sum of magnitudes) are each rounded once."""
    return (LAMBDA * U * np.sqrt(operands / 3 * square_sum) + 2 * LAMBDA * np.sqrt(n) * 2.0**-24 * absolute_sum
            + U * rounded_once)


def _products_per_output(layer):
    """n: how many products a layer with a kernel adds up for one output value."""
    if isinstance(layer, keras.layers.Conv2DTranspose):  # kernel (kh, kw, filters, in): at most kh · kw · in taps
        return int(np.prod(layer.kernel.shape)) // layer.kernel.shape[2]
    return int(np.prod(layer.kernel.shape[:-1]))


def _power_twin(layer, x, power):
    """``layer`` in float32 with kernel |W|^power, no bias and no activation, built for ``x``: applied to |x|^power
    it gives Σ|w·x|^power for each output; its gradients for upstream |dy|^power give Σ|w·dy|^power and
    Σ|x·dy|^power."""
    config = {**layer.get_config(), "activation": "linear", "use_bias": False, "dtype": "float32"}
    config.pop("sub_pixel", None)
    base = keras.layers.Conv2DTranspose if isinstance(layer, keras.layers.Conv2DTranspose) else type(layer)
    twin = base.from_config(config)
    twin(x)
    twin.set_weights([np.abs(np.asarray(layer.kernel)) ** power])
    return twin


def _as64(t):
    return np.asarray(tf.cast(t, tf.float32), "float64")


def _forward_bound(layer, x):
    """The bound above on |layer(x) in mixed bfloat16 − layer(x) in float32|, elementwise (``layer``: float32)."""
    if getattr(layer, "kernel", None) is None:  # Flatten, Reshape, Activation: at most one rounding
        return U * np.abs(_as64(layer(x)))
    square_sum, absolute_sum = (_as64(_power_twin(layer, x, p)(tf.abs(x) ** p)) for p in (2, 1))
    summed = _power_twin(layer, x, 1)
    summed.set_weights([np.asarray(layer.kernel)])  # Σ w·x without the bias
    products = _as64(summed(x))
    bias = np.asarray(layer.bias, "float64") if layer.use_bias else 0.0
    rounded_once = np.abs(products) + np.abs(bias) + np.abs(products + bias)
    return _rounding_bound(square_sum, absolute_sum, _products_per_output(layer), 2, rounded_once)


def _assert_within(name, ours, exact, bound):
    """|ours − exact| ≤ bound everywhere, with a bound that a wrong computation would miss (at most 10 % of the
    values' root mean square in the median)."""
    error = np.abs(np.asarray(ours, "float64") - np.asarray(exact, "float64"))
    assert np.all(error <= bound), (f"{name}: off by up to {error.max():.3g}, {(error - bound).max():.3g} beyond "
                                    f"the rounding bound at its worst")
    assert np.median(bound) <= 0.1 * np.sqrt(np.mean(np.square(exact))), f"{name}: the bound says little"


@NEEDS_BFLOAT16_UNITS
@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_every_layer_of_the_bfloat16_model_is_within_rounding_of_float32(part, images):
    # Layer by layer, from the float32 model's own activations: a bound per layer, not amplified through the whole
    # network. The float32 layers (mu, log_var, sigmoid) must agree to the last bit.
    fast, plain = twins("mixed_bfloat16")
    fast_part, plain_part = getattr(fast, part), getattr(plain, part)
    x = images if part == "encoder" else np.random.default_rng(3).standard_normal((8, 8)).astype("float32")
    layers = plain_part.layers[1:]
    inputs = keras.Model(plain_part.inputs, [layer.input for layer in layers])(x)
    in_bfloat16 = []
    for layer, layer_input in zip(layers, inputs, strict=True):
        fast_layer = fast_part.get_layer(layer.name)
        exact, ours = _as64(layer(layer_input)), _as64(fast_layer(layer_input))
        if fast_layer.compute_dtype == "float32":
            np.testing.assert_array_equal(ours, exact)
        elif getattr(layer, "kernel", None) is None:
            _assert_within(f"{part}.{layer.name}", ours, exact, U * np.abs(exact))
        else:
            in_bfloat16.append(layer.name)
            _assert_within(f"{part}.{layer.name}", ours, exact, _forward_bound(layer, layer_input))
    assert in_bfloat16 == (["conv_1", "conv_2", "dense"] if part == "encoder"
                           else ["dense", "dense_to_tensor", "deconv_1", "deconv_2", "image"])


def _output_and_gradients(layer, x, weighting=None):
    """The layer's output and the gradients of ``sum(weighting · output)`` (a fixed random weighting by default)
    for x, kernel and bias."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(layer(x), tf.float32)
        if weighting is None:
            weighting = np.random.default_rng(2).standard_normal(y.shape).astype("float32")
        loss = tf.reduce_sum(y * weighting)
    weights = [layer.kernel] + ([layer.bias] if layer.use_bias else [])
    return [np.asarray(t, "float32") for t in (y, *tape.gradient(loss, [x, *weights]))]


@NEEDS_BFLOAT16_UNITS
@pytest.mark.parametrize("strides, activation, filters", [(2, "relu", 32), (1, None, 32), (1, None, 3), (1, "relu", 8)])
def test_sub_pixel_layer_in_bfloat16_is_within_rounding_of_keras_in_float32(strides, activation, filters):
    # A ReLU passes or blocks a whole gradient, and a pre-activation within rounding of zero may fall on either side
    # in bfloat16. So the float32 reference's gradients take the bfloat16 pass's own mask, and the masks may differ
    # only where the float32 pre-activation is within the forward bound of zero.
    x = tf.constant(np.random.default_rng(0).standard_normal((4, 8, 8, 16)), tf.float32)
    plain, fast = _pair(filters, 3, strides, "same", activation, "mixed_bfloat16", x)
    assert fast._convolution_form() == f"stride{strides}"
    linear, _ = _pair(filters, 3, strides, "same", None, "float32", x)  # the same weights, no activation
    pre_activation = np.asarray(linear(x), "float64")
    # An upstream gradient with a mean, as a loss's often has: the bias gradient, its sum, is then far from zero.
    weighting = 0.5 + np.random.default_rng(2).standard_normal(pre_activation.shape).astype("float32")
    y, dx, dk, db = _output_and_gradients(fast, x, weighting)
    bound = _forward_bound(linear, x)
    mask = (y > 0) if activation == "relu" else np.ones(y.shape, bool)
    _assert_within("output", y, np.maximum(pre_activation, 0) if activation == "relu" else pre_activation, bound)
    flipped = mask != (pre_activation > 0) if activation == "relu" else np.zeros(y.shape, bool)
    assert np.all(np.abs(pre_activation[flipped]) <= bound[flipped])

    upstream = weighting * mask
    _, dx_exact, dk_exact, db_exact = _output_and_gradients(linear, x, upstream)
    squares, absolutes = (_power_twin(linear, x, p) for p in (2, 1))
    _, dx_square, _ = _output_and_gradients(squares, x, upstream**2)
    _, dx_absolute, _ = _output_and_gradients(absolutes, x, np.abs(upstream))
    _, _, dk_square = _output_and_gradients(squares, x**2, upstream**2)
    _, _, dk_absolute = _output_and_gradients(absolutes, tf.abs(x), np.abs(upstream))
    positions = int(np.prod(y.shape[:-1]))  # the kernel and bias gradients sum over every position of the batch
    _assert_within("gradient of x", dx, dx_exact,
                   _rounding_bound(dx_square, dx_absolute, _products_per_output(linear), 2, np.abs(dx_exact)))
    _assert_within("gradient of the kernel", dk, dk_exact,
                   _rounding_bound(dk_square, dk_absolute, positions, 2, np.abs(dk_exact)))
    # The bias gradient (_bias_gradient): dy rounded, partial sums of at most 1024 // channels positions each
    # rounded (by Cauchy-Schwarz their squares sum to at most that many times Σ dy²), the total rounded.
    db_square, db_absolute = (np.abs(upstream) ** 2).sum(axis=(0, 1, 2)), np.abs(upstream).sum(axis=(0, 1, 2))
    per_row = min(1024 // filters, int(np.prod(y.shape[1:3])))
    db_bound = (_rounding_bound(db_square, db_absolute, positions, 1, np.abs(db_exact))
                + LAMBDA * U * np.sqrt(per_row / 3 * db_square))
    _assert_within("gradient of the bias", db, db_exact, db_bound)


@pytest.mark.parametrize("filters", [3, 32])
def test_sub_pixel_bias_gradient_in_bfloat16_is_summed_in_float32(filters):
    # TensorFlow's BiasAddGrad sums in bfloat16 on the CPU: over these 16 384 positions Keras' own
    # bfloat16 layer is 10 to 15 % off the float32 gradient. Linear, so no ReLU mask can flip.
    x = tf.constant(np.random.default_rng(0).standard_normal((16, 32, 32, 16)), tf.float32)
    plain, fast = _pair(filters, 3, 1, "same", None, "mixed_bfloat16", x)
    exact, ours = _output_and_gradients(plain, x)[3], _output_and_gradients(fast, x)[3]
    assert np.abs(ours - exact).max() < 0.01 * np.abs(exact).max()


def test_sub_pixel_layer_on_an_odd_non_square_input():
    x = tf.constant(np.random.default_rng(0).standard_normal((1, 5, 7, 3)), tf.float32)
    for strides in (2, 1):
        plain, fast = _pair(4, 3, strides, "same", "relu", "float32", x)
        _assert_same_outputs_and_gradients(plain, fast, x)


def test_sub_pixel_backward_pass_is_the_transposed_convolutions_own():
    # Autodiff through the forward convolution would give the same values in float32; the graph
    # shows which computation runs: a stride-2 kernel gradient, no space_to_depth, no gather gradient.
    x = tf.zeros((2, 8, 8, 6))
    _, fast = _pair(32, 3, 2, "same", "relu", "mixed_bfloat16", x)

    @tf.function
    def gradients(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.cast(fast(x), tf.float32))
        return tape.gradient(loss, fast.trainable_variables)

    ops = gradients.get_concrete_function(x).graph.get_operations()
    filter_strides = [list(op.get_attr("strides")) for op in ops if op.type == "Conv2DBackpropFilter"]
    assert filter_strides == [[1, 2, 2, 1]]
    assert not {"SpaceToDepth", "UnsortedSegmentSum", "BiasAddGrad"} & {op.type for op in ops}


@pytest.mark.parametrize("channels", [1, 3, 16, 32, 64])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_bias_gradient_is_the_sum_over_all_but_the_channel_axis(channels, dtype):
    # Over 32 768 positions with a mean of 0.3 (a total near 9 800), where a sum in bfloat16 stalls
    # at a small fraction of it; 1 to 64 channels give 1024 to 16 pixels a row of the product with ones.
    dy = 0.3 + np.random.default_rng(channels).standard_normal((8, 64, 64, channels)).astype("float32")
    result = _bias_gradient(tf.cast(dy, dtype))
    assert result.dtype == dtype and result.shape == (channels,)
    exact = np.asarray(tf.cast(tf.cast(dy, dtype), "float64")).sum(axis=(0, 1, 2))
    tolerance = 1e-4 if dtype == "float32" else 0.01  # bfloat16 rounds the result to 8 bits
    np.testing.assert_allclose(np.asarray(result, "float64"), exact, rtol=tolerance, atol=tolerance * np.abs(exact).max())


@pytest.mark.parametrize("shape, signature", [
    ((2, 5, 7, 3), None),  # odd sizes: one pixel a row
    ((2, 2, 3, 1500), None),  # more than 1024 channels
    ((3, 6, 7, 5), [None, None, 7, 5]),  # height unknown while tracing
    ((3, 6, 7, 5), [None, None, None, 5]),  # height and width unknown
    ((3, 6, 7, 5), [None, None, None, None]),  # channels unknown: BiasAddGrad
])
def test_bias_gradient_with_odd_or_unknown_sizes(shape, signature):
    dy = np.random.default_rng(0).standard_normal(shape).astype("float32")
    compute = tf.function(_bias_gradient, input_signature=[tf.TensorSpec(signature, tf.float32)]) if signature else _bias_gradient
    np.testing.assert_allclose(np.asarray(compute(tf.constant(dy))), dy.sum(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("shape, signature", [
    ((2, 3, 5, 8), None),
    ((2, 4, 6, 12), [None, 4, 6, 12]),  # batch unknown while tracing
    ((2, 4, 4, 12), [None, None, None, 12]),  # batch, height and width unknown
])
def test_depth_to_space_equals_tensorflows(dtype, shape, signature):
    z = tf.cast(np.arange(np.prod(shape)).reshape(shape) % 251, dtype)
    if signature:
        traced = tf.function(_depth_to_space).get_concrete_function(tf.TensorSpec(signature, dtype))
        expected = [None if size is None else 2 * size for size in signature[1:3]]
        assert traced.output_shapes.as_list() == [None, *expected, signature[3] // 4]  # known sizes stay known
        compute = traced
    else:
        compute = _depth_to_space
    np.testing.assert_array_equal(np.asarray(compute(z)), np.asarray(tf.nn.depth_to_space(z, 2)))


def test_bias_gradient_in_float16_is_biasaddgrads():
    dy = tf.constant(np.random.default_rng(0).standard_normal((2, 8, 8, 4)), tf.float16)
    np.testing.assert_array_equal(np.asarray(_bias_gradient(dy)), np.asarray(tf.raw_ops.BiasAddGrad(out_backprop=dy)))


def test_sub_pixel_auto_computes_the_convolution_in_bfloat16_only():
    x = tf.constant(np.random.default_rng(0).standard_normal((2, 8, 8, 6)), tf.float32)
    assert SubPixelConv2DTranspose(4, 3, strides=2, padding="same")._convolution_form() is None
    plain, fast = _pair(32, 3, 2, "same", "relu", "mixed_bfloat16", x)
    fast.sub_pixel = "auto"
    assert fast._convolution_form() == "stride2"
    y, y_fast = np.asarray(plain(x)), np.asarray(tf.cast(fast(x), tf.float32))
    assert np.abs(y_fast - y).max() < 0.02 * np.abs(y).max()  # bfloat16 rounding only


def test_sub_pixel_config_round_trip_and_a_bad_value():
    layer = SubPixelConv2DTranspose(8, 3, strides=2, padding="same", sub_pixel=False)
    again = SubPixelConv2DTranspose.from_config(layer.get_config())
    assert again.sub_pixel is False and again.strides == (2, 2)
    with pytest.raises(ValueError, match="`sub_pixel`"):
        SubPixelConv2DTranspose(8, 3, sub_pixel="yes")


def test_bfloat16_decoder_computes_its_transposed_convolutions_as_convolutions():
    decoder = build_vae(latent_dim=8, precision="mixed_bfloat16").decoder
    forms = {layer.name: layer._convolution_form() for layer in decoder.layers
             if isinstance(layer, SubPixelConv2DTranspose)}
    assert forms == {"deconv_1": "stride2", "deconv_2": "stride2", "image": "stride1"}


def test_sub_pixel_layer_without_bias_and_through_a_keras_file(tmp_path):
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 6)).astype("float32")
    inputs = keras.Input((8, 8, 6))
    layer = SubPixelConv2DTranspose(4, 3, strides=2, padding="same", use_bias=False, sub_pixel=True)
    model = keras.Model(inputs, layer(inputs))
    plain = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", use_bias=False)
    plain(x)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(model(x), plain(x), rtol=1e-5, atol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[-1], SubPixelConv2DTranspose) and loaded.layers[-1].sub_pixel is True
    np.testing.assert_array_equal(loaded(x), model(x))


@pytest.mark.parametrize("kwargs", [{}, {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4}])
def test_fused_adam_updates_like_keras_adam(kwargs):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((5, 3)).astype("float32")
    fused, plain = keras.Variable(start), keras.Variable(start)
    fused_adam, keras_adam = FusedAdam(**kwargs), keras.optimizers.Adam(**kwargs)
    for _ in range(5):
        grad = rng.standard_normal((5, 3)).astype("float32")
        fused_adam.apply_gradients([(grad, fused)])
        keras_adam.apply_gradients([(grad, plain)])
    assert not np.allclose(np.asarray(fused), start)
    np.testing.assert_allclose(np.asarray(fused), np.asarray(plain), rtol=1e-5, atol=1e-6)


def test_fused_adam_round_trips_its_config():
    optimizer = FusedAdam(learning_rate=0.003, beta_1=0.8)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(again) is FusedAdam and again.get_config() == optimizer.get_config()


# ---------------------------------------------------------------------------------------
# build_vae(fast=True) against the plain model
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((8, 64, 64, 3), dtype=np.float32)


def twins(precision):
    keras.utils.set_random_seed(0)
    fast = build_vae(latent_dim=8, precision=precision)
    keras.utils.set_random_seed(0)
    return fast, build_vae(latent_dim=8, fast=False)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_fast_and_plain_models_have_the_same_layers_and_weights_and_compute_the_same(precision, images):
    fast, plain = twins(precision)
    assert type(plain.optimizer) is keras.optimizers.Adam and type(fast.optimizer) is FusedAdam
    for part in ("encoder", "decoder"):
        a, b = getattr(fast, part), getattr(plain, part)
        assert [layer.name for layer in a.layers] == [layer.name for layer in b.layers]
        for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(x, y)
    assert any(isinstance(layer, SubPixelConv2DTranspose) for layer in fast.decoder.layers)
    assert not any(isinstance(layer, SubPixelConv2DTranspose) for layer in plain.decoder.layers)
    mu_fast, mu_plain = (np.asarray(model.encode(images)[0]) for model in (fast, plain))
    tolerance = 0 if precision == "float32" else 0.05 * np.abs(mu_plain).max()  # bfloat16 rounding
    np.testing.assert_allclose(mu_fast, mu_plain, atol=tolerance)
    assert all(t.dtype == "float32" for t in fast(images))


def test_a_model_saved_either_way_loads_either_way(images, tmp_path):
    fast, plain = twins("mixed_bfloat16")
    data = tf.data.Dataset.from_tensor_slices(images).batch(4)
    fast.fit(data, epochs=1, verbose=0)
    fast.save(tmp_path / "fast.keras")
    loaded = load_vae(tmp_path / "fast.keras")
    assert type(loaded) is VAE
    plain.load_weights(tmp_path / "fast.keras")  # a fast model's weights into a plain one
    for x, y in zip(loaded.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(np.asarray(plain.get_weights()[0]), np.asarray(fast.get_weights()[0]))
    plain.save(tmp_path / "plain.keras")
    again, _ = twins("mixed_bfloat16")
    again.load_weights(tmp_path / "plain.keras")  # and back
    for x, y in zip(again.get_weights(), fast.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def test_precision_is_checked_and_leaves_the_global_policy_alone():
    with pytest.raises(ValueError, match="precision"):
        build_vae(precision="float16")
    with pytest.raises(ValueError, match="precision"):
        build_vae(precision="mixed_bfloat16", fast=False)
    with pytest.raises(ValueError, match="strategy"):
        build_vae(strategy="tpu")
    model = build_vae(latent_dim=8, precision="mixed_bfloat16")
    assert model.encoder.get_layer("conv_1").compute_dtype == "bfloat16"
    assert model.encoder.get_layer("conv_1").kernel.dtype == "float32"  # weights stay float32
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),  # AMD Zen 4
    ("fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", True),  # Intel Xeon 4th generation
    ("fpu sse2 avx2 avx512f avx512_vnni avx512_fp16", False),  # AVX-512 without bfloat16
    ("fpu sse2 avx2 fma", False),
])
def test_has_bfloat16_units_reads_the_flags_line_of_cpuinfo(flags, expected):
    cpuinfo = f"processor\t: 0\nmodel name\t: a CPU named amx_bf16 avx512_bf16\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
    assert has_bfloat16_units(cpuinfo) is expected
    assert has_bfloat16_units(cpuinfo.replace("avx512_bf16", "avx512_bf16x").replace("amx_bf16", "amx_bf16x")) is False
