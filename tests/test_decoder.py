import numpy as np

from vae_tutorial.decoder import build_decoder


def test_decoder_shapes_and_range():
    decoder = build_decoder(latent_dim=12)
    images = np.asarray(decoder(np.random.randn(5, 12).astype("float32") * 10))
    assert images.shape == (5, 64, 64, 3)
    assert images.min() >= 0.0 and images.max() <= 1.0
    shapes = {layer.name: layer.output.shape for layer in decoder.layers}
    assert shapes["reshape"] == (None, 16, 16, 64) and shapes["deconv_1"] == (None, 32, 32, 64)
    assert shapes["deconv_2"] == (None, 64, 64, 32)
