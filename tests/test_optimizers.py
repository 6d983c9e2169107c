import keras
import numpy as np
import pytest

from vae_tutorial.optimizers import FusedAdam


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
