"""The diagrams draw the model that was built: every layer with its output shape, and the two sampling graphs."""

import keras
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from vae_tutorial.decoder import build_decoder
from vae_tutorial.plots import describe_layer, GRADIENT_COLOUR, plot_architecture, plot_reparameterisation
from vae_tutorial.encoder import build_encoder


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_architecture_shows_every_layer_with_its_shape():
    encoder, decoder = build_encoder(latent_dim=8, image_size=32), build_decoder(latent_dim=8, image_size=32)
    fig = plot_architecture(encoder, decoder)
    assert isinstance(fig, Figure)
    labels = texts(fig)
    shapes = [t for t in labels if t.startswith("(")]
    # one shape per layer of each model, plus the sampling layer's output and the noise
    assert len(shapes) == len(encoder.layers) + len(decoder.layers) + 2
    for shape in ["(32, 32, 3)", "(16, 16, 32)", "(8, 8, 64)", "(4096,)", "(256,)", "(8,)", "(16, 16, 64)",
                  "(32, 32, 32)"]:
        assert shape in shapes, shape
    assert shapes.count("(8,)") == 5  # mu, log_var, noise, sampling, z
    joined = "\n".join(labels)
    for text in ["conv_1: Conv2D 32, 3×3, stride 2, ReLU", "mu", "log_var", "Sampling: z = μ + σ ⊙ ε",
                 "deconv_1: Conv2DTranspose 64, 3×3, stride 2, ReLU", "image: Conv2DTranspose 3, 3×3, stride 1",
                 "sigmoid"]:
        assert text in joined, text


def test_architecture_follows_the_model_it_is_given():
    encoder = build_encoder(latent_dim=8, image_size=32)
    decoder = build_decoder(latent_dim=8, image_size=32, hidden_units=64)
    labels = texts(plot_architecture(encoder, decoder))
    assert "dense: Dense 64, ReLU" in labels and "(64,)" in labels


def test_architecture_needs_two_heads():
    images = keras.Input((32, 32, 3))
    one_head = keras.Model(images, keras.layers.Dense(8)(keras.layers.Flatten()(images)))
    with pytest.raises(ValueError, match="two outputs"):
        plot_architecture(one_head, build_decoder(latent_dim=8, image_size=32))


def test_describe_layer():
    assert describe_layer(keras.layers.Dense(256, activation="relu")) == "Dense 256, ReLU"
    assert describe_layer(keras.layers.Dense(8)) == "Dense 8"
    assert describe_layer(keras.layers.Conv2DTranspose(3, 3, padding="same")) == "Conv2DTranspose 3, 3×3, stride 1"
    assert describe_layer(keras.layers.Activation("sigmoid")) == "sigmoid"


def test_reparameterisation_graph_gradients():
    fig = plot_reparameterisation()
    assert isinstance(fig, Figure)
    without, with_trick = fig.axes
    assert without.get_title().startswith("Without the trick")
    assert with_trick.get_title().startswith("With the trick: z = μ + σ ⊙ ε")
    red = to_rgba(GRADIENT_COLOUR)

    def gradient_arrows(ax, linestyle):
        return [p for p in ax.patches if p.get_edgecolor() == red and p.get_linestyle() == linestyle]

    # without: the gradient reaches z and stops there (two dotted "no path" arrows back to mu and log var)
    assert len(gradient_arrows(without, "-")) == 1 and len(gradient_arrows(without, ":")) == 2
    assert [t.get_text() for t in without.texts].count("✗ no path") == 2
    # with: it reaches z, then mu and log var, and never the noise
    assert len(gradient_arrows(with_trick, "-")) == 3 and not gradient_arrows(with_trick, ":")
    labels = [t.get_text() for t in with_trick.texts]
    assert r"$\partial z / \partial \mu = 1$" in labels
    assert any(r"\partial z / \partial \log\sigma^2" in t for t in labels)
    assert not any(r"\partial z / \partial \varepsilon" in t for t in labels)
