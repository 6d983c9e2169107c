import numpy as np

from vae_tutorial.generation import generate, interpolate, plot_generated, plot_reconstructions, reconstruct
from vae_tutorial.model import VAE


def test_generate_decodes_prior_samples_deterministically():
    model = VAE(latent_dim=6)
    a = generate(model, 5, seed=1)
    assert a.shape == (5, 64, 64, 3)
    np.testing.assert_array_equal(a, generate(model.decoder, 5, seed=1))
    assert not np.array_equal(a, generate(model, 5, seed=2))


def test_reconstruct_uses_the_posterior_mean():
    model = VAE(latent_dim=6)
    images = np.random.default_rng(0).random((3, 64, 64, 3)).astype("float32")
    r = reconstruct(model, images)
    np.testing.assert_array_equal(r, reconstruct(model, images))  # no sampling noise
    np.testing.assert_allclose(r, model.decoder(model.encode(images)[0]), atol=1e-6)


def test_interpolation_ends_at_the_reconstructions():
    model = VAE(latent_dim=6)
    images = np.random.default_rng(0).random((2, 64, 64, 3)).astype("float32")
    path = interpolate(model, images[0], images[1], steps=5)
    assert path.shape == (5, 64, 64, 3)
    np.testing.assert_allclose(path[[0, -1]], reconstruct(model, images), atol=1e-5)


def test_figures_say_what_they_show():
    images = np.random.rand(10, 64, 64, 3)
    assert "Generated" in plot_generated(images)._suptitle.get_text()
    fig = plot_reconstructions(images, images)
    assert len(fig.axes) == 1  # the grid is one picture; its row labels are the tick labels
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels == ["Original", "Reconstruction", "Original", "Reconstruction"]
