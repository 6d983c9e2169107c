import keras
import numpy as np
import pytest

from vae_tutorial.decoder import build_decoder


def test_decoder_shapes_range_and_layers():
    decoder = build_decoder(latent_dim=12)
    images = np.asarray(decoder(np.random.default_rng(0).standard_normal((5, 12)).astype("float32") * 10))
    assert images.shape == (5, 64, 64, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    shapes = {layer.name: layer.output.shape for layer in decoder.layers}
    assert shapes["reshape"] == (None, 16, 16, 64) and shapes["deconv_1"] == (None, 32, 32, 64)
    assert shapes["deconv_2"] == (None, 64, 64, 32) and shapes["image"] == (None, 64, 64, 3)
    kinds = [type(layer) for layer in decoder.layers]
    assert kinds.count(keras.layers.Conv2DTranspose) == 3  # Keras' own layer, as the lesson names it


@pytest.mark.parametrize("kwargs, match", [({"latent_dim": -1}, "latent_dim"), ({"image_size": 62}, "image_size")])
def test_bad_sizes_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_decoder(**kwargs)
