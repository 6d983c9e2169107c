"""The explorer and the directions its sliders move along.

Two models: ``PaintedCodes``, a stand-in whose codes vary along known directions (so the tests can say how much
every slider must change the picture), and a small VAE trained here for two epochs (the explorer on a real model).
"""

import io
from datetime import datetime, timezone

import keras
import numpy as np
import pytest
from ipywidgets import FloatSlider
from ipywidgets import Image as ImageWidget
from PIL import Image

from vae_tutorial.data import find_images, preprocess_image
from vae_tutorial.evaluation import encode
from vae_tutorial.generation import (directions_of_codes, LatentDirections, principal_directions,
                                     slider_effects, traverse)
from vae_tutorial.training import build_vae
from vae_tutorial.course.widgets import LatentExplorer, read_upload, to_png


class PaintedCodes:
    """A stand-in for a VAE with a known latent space: an image's code holds the mean colours of its top and
    bottom halves (6 numbers), scaled down and embedded in ``latent_dim`` dimensions around an offset, as a VAE's
    codes spread over many dimensions away from 0; the decoder (a Keras ``Dense`` layer) paints them back."""

    scale = 0.05

    def __init__(self, latent_dim=16, seed=0):
        rng = np.random.default_rng(seed)
        self.basis = np.linalg.qr(rng.standard_normal((latent_dim, 6)))[0].T.astype("float32")  # (6, latent_dim)
        self.offset = rng.standard_normal(latent_dim).astype("float32")
        paint = np.zeros((64, 64, 3, 6), "float32")  # colour feature -> pixels
        for channel in range(3):
            paint[:32, :, channel, channel] = 1.0
            paint[32:, :, channel, 3 + channel] = 1.0
        paint = paint.reshape(-1, 6)
        dense = keras.layers.Dense(64 * 64 * 3)
        self.decoder = keras.Sequential([keras.Input((latent_dim,)), dense, keras.layers.Reshape((64, 64, 3)),
                                         keras.layers.ReLU(max_value=1.0)])
        kernel = (paint @ self.basis / self.scale).T
        bias = paint @ (0.5 - self.basis @ self.offset / self.scale)
        dense.set_weights([kernel, bias])

    def encode(self, images):
        images = np.asarray(images)
        features = np.concatenate([images[:, :32].mean(axis=(1, 2)), images[:, 32:].mean(axis=(1, 2))], axis=1)
        mu = self.offset + self.scale * (features - 0.5) @ self.basis
        return mu, np.zeros_like(mu)


def two_colour_images(n, seed=0):
    """``n`` images whose top and bottom halves each have one random colour: (n, 64, 64, 3) in [0, 1]."""
    colours = np.random.default_rng(seed).random((n, 2, 1, 1, 3)).astype("float32")
    return np.repeat(np.repeat(colours, 32, axis=2), 64, axis=3).reshape(n, 64, 64, 3)


@pytest.fixture(scope="module")
def painted():
    return PaintedCodes()


@pytest.fixture(scope="module")
def shapes(shapes_folder):
    return np.stack([preprocess_image(path) for path in find_images(shapes_folder, progress=False).paths])


@pytest.fixture(scope="module")
def trained(shapes):
    keras.utils.set_random_seed(0)
    model = build_vae(latent_dim=16, learning_rate=3e-3, seed=0)
    model.fit(shapes, epochs=2, batch_size=16, verbose=0)
    return model


@pytest.fixture
def explorer(trained, shapes):
    return LatentExplorer.from_images(trained, shapes)


def _classes(widget):
    return set(widget._dom_classes)


def _all(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all(child)


def _png(array, format="PNG"):
    buffer = io.BytesIO()
    Image.fromarray((np.asarray(array) * 255).round().astype(np.uint8)).save(buffer, format=format)
    return buffer.getvalue()


def _pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)), "float32") / 255


def _same_picture(png, images, scale):
    """``png`` shows ``images`` (up to rounding to 8 bits)."""
    return np.allclose(_pixels(png), _pixels(to_png(images, scale=scale)), atol=1.01 / 255)


def _upload(explorer, name, content, type="image/png"):
    """Set the upload widget as ipywidgets 8 does when a file arrives from the browser."""
    explorer.upload.value = ({"name": name, "type": type, "size": len(content), "content": memoryview(content),
                              "last_modified": datetime.now(timezone.utc)},)


# --- The directions


def test_directions_are_the_principal_axes_of_the_codes():
    rng = np.random.default_rng(1)
    axes = np.linalg.qr(rng.standard_normal((10, 3)))[0].T  # three orthonormal directions in 10 dimensions
    mu = 2.0 + rng.standard_normal((500, 3)) * [3.0, 1.0, 0.3] @ axes + 0.01 * rng.standard_normal((500, 10))
    directions = directions_of_codes(mu, n=3)
    assert np.allclose(np.abs(np.sum(directions.directions * axes, axis=1)), 1.0, atol=1e-3)  # ±each axis, in order
    assert np.allclose(directions.sds, np.std(mu @ directions.directions.T, axis=0, ddof=1), rtol=1e-4)
    assert np.allclose(directions.sds, [3.0, 1.0, 0.3], rtol=0.1)
    assert np.allclose(directions.mean, mu.mean(axis=0), atol=1e-5)
    coordinates = directions.coordinates(mu)  # the data in slider units: mean 0, standard deviation 1
    assert np.allclose(coordinates.mean(axis=0), 0, atol=1e-4) and np.allclose(coordinates.std(axis=0, ddof=1), 1)
    s = np.array([1.5, -2.0, 0.5])
    assert np.allclose(directions.coordinates(directions.point(s)), s, atol=1e-4)
    assert np.allclose(directions.point(np.zeros(3)), directions.mean)


def test_no_more_directions_than_the_codes_have():
    assert len(directions_of_codes(np.random.default_rng(0).random((3, 8)), n=6)) == 2
    with pytest.raises(ValueError, match="Argument `mu` must be an array"):
        directions_of_codes(np.zeros((1, 8)))
    with pytest.raises(ValueError, match="Argument `n` must be a positive integer"):
        directions_of_codes(np.zeros((4, 8)), n=0)


def test_traverse_decodes_the_mean_code_moved_along_one_direction(painted):
    directions = principal_directions(painted, two_colour_images(64))
    pictures = traverse(painted, directions, 1, [-2.0, 0.0, 2.0])
    step = directions.sds[1] * directions.directions[1]
    expected = painted.decoder(directions.mean + np.outer([-2.0, 0.0, 2.0], step))
    assert pictures.shape == (3, 64, 64, 3) and np.allclose(pictures, expected, atol=1e-5)


def test_every_slider_visibly_changes_the_picture(painted):
    explorer = LatentExplorer.from_images(painted, two_colour_images(64))
    effects = explorer.slider_effects()
    assert len(effects) == 6 and np.all(effects > 0.1), effects
    for slider in explorer.latent_sliders:
        before = explorer.latent_image.value
        slider.value = slider.max
        assert explorer.latent_image.value != before


def test_the_picture_is_decoded_from_the_mean_code_plus_the_sliders(painted):
    images = two_colour_images(64)
    explorer = LatentExplorer.from_images(painted, images, n_sliders=4)
    mu, _ = painted.encode(images)
    covariance = np.cov(mu, rowvar=False)
    eigenvalues = np.sort(np.linalg.eigvalsh(covariance))[::-1][:4]
    directions = explorer.directions
    assert np.allclose(directions.sds ** 2, eigenvalues, rtol=1e-3)  # the four largest, in order
    assert np.allclose(covariance @ directions.directions.T, directions.directions.T * eigenvalues, atol=1e-6)
    s = [1.5, -0.5, 0.0, 2.0]
    explorer.set_sliders(s)
    z = mu.mean(axis=0) + (np.array(s) * directions.sds) @ directions.directions
    assert _same_picture(explorer.latent_image.value, painted.decoder(z[None]), scale=3)
    assert "with s = (+1.5, -0.5, +0.0, +2.0)" in explorer.latent_label.value


# --- The explorer on a trained VAE


def test_from_images_gives_sliders_and_a_picture_that_follows_them(explorer):
    assert len(explorer.latent_sliders) == 6 and all(isinstance(s, FloatSlider) for s in explorer.latent_sliders)
    assert isinstance(explorer.latent_image, ImageWidget)
    assert explorer.latent_label.value.startswith("Generated from z = mean code + Σ s_i · sd_i · v_i")
    slider = explorer.latent_sliders[0]
    assert (slider.min, slider.value, slider.max) == (-3.0, 0.0, 3.0)
    before = explorer.latent_image.value
    slider.value = 2.0
    assert explorer.latent_image.value != before and "s = (+2.0, +0.0" in explorer.latent_label.value
    explorer.latent_sliders[5].value = -1.0
    explorer.reset_button.click()
    assert explorer.latent_image.value == before and not explorer.slider_values().any()


def test_the_parts_carry_their_css_classes(explorer):
    parts = list(_all(explorer))
    assert "vae-explorer" in _classes(explorer)
    assert [w for w in parts if "vae-latent-slider" in _classes(w)] == explorer.latent_sliders
    assert [w for w in parts if "vae-temperature-slider" in _classes(w)] == [explorer.temperature_slider]
    assert [w for w in parts if "vae-interpolation-slider" in _classes(w)] == [explorer.interpolation_slider]
    assert [w for w in parts if "vae-upload" in _classes(w)] == [explorer.upload]
    pictures = [explorer.latent_image, explorer.temperature_image, explorer.originals_image,
                explorer.interpolation_image, explorer.upload_image]
    assert [w for w in parts if "vae-explorer-image" in _classes(w)] == pictures
    labels = [explorer.latent_label, explorer.temperature_label, explorer.interpolation_label, explorer.upload_label]
    assert [w for w in parts if "vae-explorer-label" in _classes(w)] == labels


def test_temperature_changes_the_picture(explorer):
    before = explorer.temperature_image.value
    explorer.temperature_slider.value = 0.5
    assert explorer.temperature_image.value != before and "T = 0.5" in explorer.temperature_label.value


def test_interpolation_between_two_picked_images(painted):
    images = two_colour_images(16)
    explorer = LatentExplorer.from_images(painted, images)
    explorer.image_a_picker.value, explorer.image_b_picker.value = 3, 7
    assert explorer.originals_image.value == to_png(images[[3, 7]])
    mu, _ = painted.encode(images[[3, 7]])
    for t in (0.0, 0.3, 1.0):
        explorer.interpolation_slider.value = t
        assert _same_picture(explorer.interpolation_image.value, painted.decoder((1 - t) * mu[:1] + t * mu[1:]), 3)
    assert _same_picture(explorer.interpolation_image.value, images[7:8], 3)  # the stand-in decodes exactly
    assert explorer.interpolation_label.value.startswith("Interpolation: decoded from 100% of the way")
    assert "image A (#3)" in explorer.interpolation_label.value and "image B (#7)" in explorer.interpolation_label.value


@pytest.mark.parametrize("format, type", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_an_uploaded_image_is_encoded_and_placed_along_the_sliders(explorer, trained, shapes, tmp_path, format,
                                                                 type):
    content = _png(shapes[5], format)
    (tmp_path / "upload").write_bytes(content)
    image = preprocess_image(tmp_path / "upload")  # as the data set's files are prepared
    if format == "PNG":
        assert np.allclose(image, shapes[5], atol=1e-6)
    _upload(explorer, f"mine.{format.lower()}", content, type)
    mu, _ = encode(trained, image[None])
    assert _same_picture(explorer.upload_image.value, np.concatenate([image[None], trained.decoder(mu)]), scale=3)
    assert np.allclose(explorer.upload_coordinates, explorer.directions.coordinates(mu[0]), atol=1e-4)
    label = explorer.upload_label.value
    assert label.startswith(f"'mine.{format.lower()}' (left) and its reconstruction (right)") and "s = (" in label
    explorer.to_upload_button.click()
    expected = np.clip(np.round(explorer.upload_coordinates, 1), -3, 3)
    assert np.allclose(explorer.slider_values(), expected, atol=1e-6)


@pytest.mark.parametrize("kind, reason", [
    ("truncated", "corrupt or unreadable image"),
    ("header only", "not an image Pillow can read"),
    ("text", "not an image Pillow can read"),
    ("empty", "empty file"),
])
def test_a_bad_upload_gives_a_one_line_message(explorer, shapes, kind, reason):
    good = _png(shapes[0])
    content = {"truncated": good[:-60], "header only": good[:8] + bytes(range(256)) * 2,
               "text": b"this is not a picture", "empty": b""}[kind]
    _upload(explorer, "good.png", good)
    assert explorer.upload_image.value and not explorer.to_upload_button.disabled
    _upload(explorer, "bad.png", content)
    label = explorer.upload_label.value
    assert label.startswith("Could not use 'bad.png': ") and reason in label and "\n" not in label
    assert explorer.upload_image.value == b"" and explorer.upload_coordinates is None
    assert explorer.to_upload_button.disabled
    with pytest.raises(ValueError, match=reason):
        read_upload(content, 64)


def test_a_huge_upload_is_refused_before_decoding(monkeypatch, shapes):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses to open images over twice this
    with pytest.raises(ValueError, match=r"^image too large \(over 2000 pixels\)$"):
        read_upload(_png(shapes[0]), 64)


# --- Small parts and argument errors


def test_to_png_lays_images_out_enlarged():
    picture = Image.open(io.BytesIO(to_png(np.zeros((3, 4, 5, 3)), scale=2, ncols=2)))
    assert picture.format == "PNG" and picture.size == (2 * 5 * 2, 2 * 4 * 2)


def test_slider_effects_is_the_mean_change_between_the_ends(painted):
    directions = principal_directions(painted, two_colour_images(32))
    ends = [traverse(painted, directions, i, [-3.0, 3.0]) for i in range(len(directions))]
    assert np.allclose(slider_effects(painted, directions), [np.abs(b - a).mean() for a, b in ends])


def test_the_constructor_refuses_wrong_arguments(painted):
    images = two_colour_images(8)
    directions = principal_directions(painted, images)
    with pytest.raises(ValueError, match="Argument `directions` must be the LatentDirections"):
        LatentExplorer(painted, np.zeros(16), images)
    with pytest.raises(ValueError, match="Argument `images` must be an array"):
        LatentExplorer.from_images(painted, images[:1])
    with pytest.raises(ValueError, match="Argument `index_b` must be in"):
        LatentExplorer(painted, directions, images, index_b=8)
    other = LatentDirections(np.zeros(4), np.eye(4)[:2], np.ones(2), np.ones(2) / 2)
    with pytest.raises(ValueError, match=r"\(16 dimensions\)"):
        LatentExplorer(painted, other, images)
