import numpy as np
import pytest
from matplotlib.colors import to_rgba

from vae_tutorial.data import take_images
from vae_tutorial.evaluation import (active_dimensions, active_units, dimensions_by_kl, kl_per_dimension,
                                     mean_image_mse, per_pixel_mse, summarize)
from vae_tutorial.generation import latent_traversal
from vae_tutorial.plots import (plot_epoch_grids, plot_history, plot_kl_per_dimension,
                                plot_reconstruction_comparison, plot_samples_vs_density,
                                plot_transposed_convolution)
from vae_tutorial.plots import read_history
from vae_tutorial.losses import kl_divergence
from vae_tutorial.model import VAE


def test_kl_per_dimension_sums_to_the_loss_kl():
    rng = np.random.default_rng(0)
    mu, log_var = rng.normal(size=(50, 7)), rng.normal(size=(50, 7))
    per_dim = kl_per_dimension(mu, log_var)
    assert per_dim.shape == (7,)
    np.testing.assert_allclose(per_dim.sum(), np.mean(kl_divergence(mu, log_var)), rtol=1e-5)
    assert np.all(kl_per_dimension(np.zeros((3, 4)), np.zeros((3, 4))) == 0)  # posterior = prior


def test_active_units_count_dimensions_whose_mean_varies():
    rng = np.random.default_rng(0)
    mu = np.zeros((200, 5))
    mu[:, 1] = rng.normal(size=200)         # variance ≈ 1: active
    mu[:, 3] = 0.05 * rng.normal(size=200)  # variance ≈ 0.0025: below 0.01
    mu[:, 4] = 7.0                          # far from 0 but constant: inactive
    assert active_dimensions(mu).tolist() == [False, True, False, False, False]
    assert active_units(mu) == 1
    assert active_units(mu, threshold=0.001) == 2
    with pytest.raises(ValueError, match="mu must have shape"):
        active_units(np.zeros(5))


def test_mse_and_the_mean_image_baseline():
    images = np.stack([np.zeros((4, 4, 3)), np.ones((4, 4, 3))])
    assert per_pixel_mse(images, images) == 0
    assert per_pixel_mse(images, np.full_like(images, 0.5)) == pytest.approx(0.25)
    assert mean_image_mse(images) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shapes differ"):
        per_pixel_mse(images, images[:1])


def test_dimensions_by_kl_puts_the_largest_first():
    assert dimensions_by_kl([0.1, 3.0, 0.0, 2.0]).tolist() == [1, 3, 0, 2]


def test_summarize_and_traversal_on_a_small_model():
    model = VAE(latent_dim=6, seed=0)
    images = np.random.default_rng(0).random((10, 64, 64, 3)).astype("float32")
    summary = summarize(model, images)
    assert set(summary) == {"kl", "active_units", "latent_dim", "mse", "mean_image_mse"}
    assert summary["latent_dim"] == 6 and 0 <= summary["active_units"] <= 6
    assert summary["kl"] >= 0 and summary["mse"] > 0
    assert summary["mean_image_mse"] == pytest.approx(mean_image_mse(images))
    path = latent_traversal(model, 2, [-2.0, 0.0, 2.0])
    assert path.shape == (3, 64, 64, 3)
    z = np.zeros((1, 6), "float32")
    np.testing.assert_allclose(path[1], model.decoder(z)[0], atol=1e-6)
    assert not np.allclose(path[0], path[2])
    with pytest.raises(ValueError, match="dimension must be in"):
        latent_traversal(model, 6, [0.0])


def test_take_images_from_a_batched_pipeline():
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(np.arange(10, dtype="float32")).batch(4)
    assert take_images(ds, 6).tolist() == [0, 1, 2, 3, 4, 5]


def test_history_and_figures(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,kl_loss,loss,reconstruction_loss,val_kl_loss,val_reconstruction_loss\n"
        "0,10,110,100,9,105\n1,12,92,80,11,88\n")
    history = read_history(tmp_path / "history.csv")
    assert history["reconstruction_loss"].tolist() == [100, 80]
    fig = plot_history(tmp_path / "history.csv")
    assert [ax.get_title() for ax in fig.axes] == ["Reconstruction loss", "KL divergence"]
    assert len(fig.axes[0].lines) == 2  # training and validation

    from PIL import Image

    grids = tmp_path / "epochs"
    grids.mkdir()
    for epoch in (1, 2, 3):
        Image.new("RGB", (80, 40), (epoch * 50, 0, 0)).save(grids / f"epoch_{epoch:03d}.png")
    assert len(plot_epoch_grids(grids).axes) == 3
    assert len(plot_epoch_grids(grids, epochs=[1, 3]).axes) == 2
    with pytest.raises(ValueError, match="no epoch grids"):
        plot_epoch_grids(tmp_path)

    fig = plot_kl_per_dimension(np.array([0.0, 2.0, 1.0]), np.array([False, True, True]))
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == [2.0, 1.0, 0.0]
    assert fig.axes[0].get_title().endswith(": 2 active (blue), 1 inactive (grey)")
    # The title names only colours that some bar has.
    fig = plot_kl_per_dimension(np.array([0.5, 2.0, 1.0]), np.array([True, True, True]))
    assert fig.axes[0].get_title().endswith(": all 3 dimensions active")
    assert "grey" not in fig.axes[0].get_title()
    assert {tuple(bar.get_facecolor()) for bar in fig.axes[0].patches} == {to_rgba("tab:blue")}
    fig = plot_kl_per_dimension(np.array([0.0, 0.001]), np.array([False, False]))
    assert "blue" not in fig.axes[0].get_title() and "all grey" in fig.axes[0].get_title()
    assert {tuple(bar.get_facecolor()) for bar in fig.axes[0].patches} == {to_rgba("0.7")}
    with pytest.raises(ValueError, match="threshold_mask"):
        plot_kl_per_dimension(np.array([0.0, 1.0]), np.array([True]))
    assert plot_samples_vs_density(np.random.default_rng(0).normal(size=500), 0.5, 0.0).axes
    assert plot_transposed_convolution(np.eye(2), np.ones((4, 4))).axes
    images = np.random.default_rng(0).random((3, 8, 8, 3))
    fig = plot_reconstruction_comparison(images, {"sum": images, "mean": images})
    assert len(fig.axes) == 1  # the grid is one picture; its row labels are the tick labels
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels == ["Original", "Reconstruction\nsum", "Reconstruction\nmean"]
