import io

import numpy as np
import pytest
from PIL import Image

from vae_tutorial.model import VAE
from vae_tutorial.widgets import LatentExplorer, to_png


@pytest.fixture(scope="module")
def explorer():
    model = VAE(latent_dim=8, seed=0)
    rng = np.random.default_rng(0)
    kl = np.array([0.1, 0.0, 5.0, 0.3, 2.0, 0.0, 0.0, 1.0])
    a, b = rng.random((2, 64, 64, 3)).astype("float32")
    return LatentExplorer(model, kl, a, b, n_sliders=3)


def _classes(widget):
    return set(widget._dom_classes)


def _all(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _all(child)


def test_to_png_lays_images_out_enlarged():
    picture = Image.open(io.BytesIO(to_png(np.zeros((3, 4, 5, 3)), scale=2, ncols=2)))
    assert picture.format == "PNG" and picture.size == (2 * 5 * 2, 2 * 4 * 2)


def test_the_parts_carry_their_css_classes(explorer):
    parts = list(_all(explorer))
    assert "vae-explorer" in _classes(explorer)
    sliders = [w for w in parts if "vae-latent-slider" in _classes(w)]
    assert sliders == explorer.latent_sliders and len(sliders) == 3
    assert [w for w in parts if "vae-temperature-slider" in _classes(w)] == [explorer.temperature_slider]
    assert [w for w in parts if "vae-interpolation-slider" in _classes(w)] == [explorer.interpolation_slider]
    assert len([w for w in parts if "vae-explorer-image" in _classes(w)]) == 3
    assert len([w for w in parts if "vae-explorer-label" in _classes(w)]) == 3


def test_the_first_sliders_are_the_dimensions_with_the_most_kl(explorer):
    assert explorer.dimensions == [2, 4, 7]
    assert explorer.latent_sliders[0].description == "z[2]"


@pytest.mark.parametrize("slider, image, label, value, words", [
    ("latent_sliders", "latent_image", "latent_label", 1.5, "Generated from z with dimension 2 = 1.50"),
    ("temperature_slider", "temperature_image", "temperature_label", 0.5, "Generated from 8 random z"),
    ("interpolation_slider", "interpolation_image", "interpolation_label", 0.4, "Interpolation: decoded from 40%"),
])
def test_moving_a_slider_changes_the_picture_and_its_label(explorer, slider, image, label, value, words):
    slider = getattr(explorer, slider)
    slider = slider[0] if isinstance(slider, list) else slider
    before_image, before_label = getattr(explorer, image).value, getattr(explorer, label).value
    slider.value = value
    after_label = getattr(explorer, label).value
    assert getattr(explorer, image).value != before_image
    assert after_label != before_label and words in after_label
    assert ("Generated" in after_label) != ("Interpolation" in after_label)  # never both


def test_latent_vector_follows_the_sliders(explorer):
    explorer.latent_sliders[1].value = -2.0
    z = explorer.latent_vector()
    assert z[4] == -2.0 and np.count_nonzero(z) <= 3


def test_kl_of_the_wrong_length_is_refused():
    model = VAE(latent_dim=4)
    image = np.zeros((64, 64, 3), "float32")
    with pytest.raises(ValueError, match="kl must have one value per latent dimension"):
        LatentExplorer(model, np.zeros(5), image, image)
