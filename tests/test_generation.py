import numpy as np

from vae_tutorial.evaluation import reconstruct
from vae_tutorial.generation import generate, interpolate
from vae_tutorial.plots import GENERATED_TITLE, plot_generated, plot_reconstructions, RECONSTRUCTED_TITLE
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


def cell(fig, row, col, side=64, gap=2):
    """The picture in grid cell (row, col) of a figure drawn by visualize_batch (gap: 64 // 32 white pixels)."""
    grid = np.asarray(fig.axes[0].images[0].get_array())
    return grid[row * (side + gap):row * (side + gap) + side, col * (side + gap):col * (side + gap) + side]


def test_figures_say_what_they_show():
    rng = np.random.default_rng(0)
    images, copies = rng.random((10, 64, 64, 3)), rng.random((10, 64, 64, 3))
    fig = plot_generated(images, ncols=8)
    assert fig._suptitle.get_text() == GENERATED_TITLE  # the default: says these are generated, from the prior
    np.testing.assert_allclose(cell(fig, 1, 1), images[9], atol=1e-6)  # every image, in order, 8 to a row
    assert plot_generated(images, title="Epoch 3")._suptitle.get_text() == "Epoch 3"
    fig = plot_reconstructions(images, copies)
    assert len(fig.axes) == 1  # the grid is one picture; its row labels are the tick labels
    labels = [label.get_text() for label in fig.axes[0].get_yticklabels()]
    assert labels == ["Original", "Reconstruction", "Original", "Reconstruction"]
    assert fig._suptitle.get_text() == RECONSTRUCTED_TITLE
    # each row of reconstructions under its originals; the last pair of rows filled out with white
    for row, expected in ((0, images[3]), (1, copies[3]), (2, images[9]), (3, copies[9])):
        np.testing.assert_allclose(cell(fig, row, 3 if row < 2 else 1), expected, atol=1e-6)
    np.testing.assert_array_equal(cell(fig, 3, 2), 1.0)


def test_traverse_can_start_from_a_real_code():
    from vae_tutorial.evaluation import encode
    from vae_tutorial.generation import principal_directions, traverse

    model = VAE(latent_dim=6)
    images = np.random.default_rng(0).random((8, 64, 64, 3)).astype("float32")
    directions = principal_directions(model, images, n=3)
    mu = encode(model, images)[0][2]
    values = [-2.0, 0.0, 2.0]
    pictures = traverse(model, directions, 1, values, start=mu)
    expected = model.decoder(mu + np.outer(values, directions.sds[1] * directions.directions[1]))
    assert pictures.shape == (3, 64, 64, 3) and np.allclose(pictures, expected, atol=1e-5)
    np.testing.assert_allclose(pictures[1], reconstruct(model, images[2:3])[0], atol=1e-5)  # 0: the image's code
    def codes(z, training=False):  # a "decoder" that returns its codes: which z were decoded
        return z

    step = directions.sds[1] * directions.directions[1]
    np.testing.assert_allclose(traverse(codes, directions, 1, values, start=mu), mu + np.outer(values, step),
                               atol=1e-5)
    np.testing.assert_allclose(traverse(codes, directions, 1, values), directions.mean + np.outer(values, step),
                               atol=1e-5)  # without a start: the mean code, as before
    assert not np.allclose(mu, directions.mean, atol=1e-3)
    with np.testing.assert_raises(ValueError):
        traverse(model, directions, 1, values, start=np.zeros(5))
