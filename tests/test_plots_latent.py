"""The figures of a two-dimensional latent space (vae_tutorial.plots.latent)."""

import numpy as np
import pytest
from scipy.stats import norm

from vae_tutorial.plots import (latent_grid, noisy_samples, plot_latent_manifold, plot_latent_scatter,
                                plot_samples_with_noise)


def test_latent_grid_runs_row_by_row_from_the_top():
    grid = latent_grid(3, extent=2.0)
    assert grid.shape == (9, 2) and grid.dtype == np.float32
    np.testing.assert_allclose(grid[:3], [[-2, 2], [0, 2], [2, 2]])
    np.testing.assert_allclose(grid[-1], [2, -2])


def test_latent_grid_at_quantiles_puts_equal_prior_mass_in_each_cell():
    values = latent_grid(4, quantiles=True)[:4, 0]
    np.testing.assert_allclose(norm.cdf(values), [0.125, 0.375, 0.625, 0.875], atol=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        latent_grid(1)


def test_the_manifold_tiles_each_decoded_image_where_its_code_is():
    def decoder(z):  # brightness from z[0], one channel per image
        return np.repeat(((z[:, 0] + 2.5) / 5)[:, None, None, None], 4, 1).repeat(4, 2).repeat(3, 3)

    fig = plot_latent_manifold(decoder, n=5)
    tiled = fig.axes[0].images[0].get_array()
    assert tiled.shape == (20, 20, 3)
    assert tiled[0, 0, 0] == 0 and tiled[0, -1, 0] == 1  # left is z[0] = -2.5, right +2.5
    assert "Generated" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="images"):
        plot_latent_manifold(lambda z: z, n=3)


def test_the_scatter_colours_the_commonest_labels_and_greys_the_rest():
    rng = np.random.default_rng(0)
    labels = np.array(["faces"] * 30 + ["animals"] * 20 + [f"rare{i}" for i in range(15)])
    fig = plot_latent_scatter(rng.normal(size=(len(labels), 2)), labels, max_legend=3)
    names = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert names == ["other (15)", "faces (30)", "animals (20)"]
    with pytest.raises(ValueError, match="one label each"):
        plot_latent_scatter(np.zeros((3, 2)), ["a"])


def test_noisy_samples_add_the_decoders_sigma():
    decoded = np.full((200, 8, 8, 3), 0.5, np.float32)
    noisy = noisy_samples(decoded, np.log(0.01))
    assert abs(float(np.std(noisy - decoded)) - 0.1) < 0.005
    np.testing.assert_array_equal(noisy, noisy_samples(decoded, np.log(0.01)))  # seeded
    fig = plot_samples_with_noise(decoded, np.log(0.01), n=4)
    assert len(fig.axes) == 8 and "σ = 0.100" in fig.axes[4].get_ylabel()
