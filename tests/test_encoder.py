import numpy as np
import pytest

from vae_tutorial.encoder import build_encoder


def test_encoder_shapes():
    encoder = build_encoder(latent_dim=12)
    mu, log_var = encoder(np.random.rand(3, 64, 64, 3).astype("float32"))
    assert mu.shape == (3, 12) and log_var.shape == (3, 12)
    shapes = {layer.name: layer.output.shape for layer in encoder.layers}
    assert shapes["conv_1"] == (None, 32, 32, 32) and shapes["conv_2"] == (None, 16, 16, 64)
    assert shapes["dense"] == (None, 256)


@pytest.mark.parametrize("kwargs, match", [({"latent_dim": 0}, "latent_dim"), ({"image_size": 30}, "image_size")])
def test_bad_sizes_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_encoder(**kwargs)
