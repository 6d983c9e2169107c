"""An ipywidgets explorer for a trained VAE: move a slider, see the decoded picture change.

Three panels, each a picture (``ipywidgets.Image``, PNG bytes) with a label that says what
it shows:

1. **Generation from chosen z**: one slider per latent dimension, for the dimensions that
   carry the most KL (the first slider is the top one); every other dimension stays 0.
2. **Generation at a temperature**: eight images decoded from z ~ N(0, T² I), T on a slider.
3. **Interpolation**: the decoded point a fraction t of the way from the encoding of
   image A to the encoding of image B.

CSS classes, for finding the parts in a browser: ``vae-explorer`` (the whole box),
``vae-latent-slider``, ``vae-temperature-slider``, ``vae-interpolation-slider``,
``vae-explorer-image`` (every picture that updates) and ``vae-explorer-label``.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
from PIL import Image

from vae_tutorial.analysis import dimensions_by_kl
from vae_tutorial.generation import encode
from vae_tutorial.training import fixed_latents


def to_png(images, scale: int = 2, ncols: int | None = None) -> bytes:
    """Images (N, H, W, 3) in [0, 1] → one PNG of them side by side (``ncols`` per row), enlarged ``scale`` times."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    n, h, w, _ = images.shape
    ncols = ncols or n
    nrows = -(-n // ncols)
    sheet = np.ones((nrows * h, ncols * w, 3), np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, ncols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = image
    picture = Image.fromarray((sheet * 255).round().astype(np.uint8))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _picture():
    return widgets.Image(format="png").add_class("vae-explorer-image")


def _label():
    return widgets.Label().add_class("vae-explorer-label")


class LatentExplorer(widgets.VBox):
    """The explorer for ``model``; ``kl`` is the KL per latent dimension (from ``analysis``).

    Args:
        model: a trained ``VAE``.
        kl: KL per latent dimension, shape (latent_dim,); the sliders go to the largest.
        image_a, image_b: two images (64, 64, 3) in [0, 1] to interpolate between.
        n_sliders: how many latent-dimension sliders (default 6).
        limit: the latent sliders run from ``-limit`` to ``limit`` (default 3).
        n_samples, seed: the temperature panel decodes ``n_samples`` fixed z of this seed.
    """

    def __init__(self, model, kl, image_a, image_b, n_sliders: int = 6, limit: float = 3.0,
                 n_samples: int = 8, seed: int = 0):
        self.model = model
        self.decoder = model.decoder
        latent_dim = self.decoder.input_shape[-1]
        if len(kl) != latent_dim:
            raise ValueError(f"kl must have one value per latent dimension ({latent_dim}), got {len(kl)}")
        if n_sliders < 1:
            raise ValueError(f"n_sliders must be a positive integer, got {n_sliders}")
        self.dimensions = [int(d) for d in dimensions_by_kl(kl)[:n_sliders]]
        self.noise = fixed_latents(n_samples, latent_dim, seed)  # z ~ N(0, I); times T below
        mu, _ = encode(model, np.stack([image_a, image_b]))
        self.mu_a, self.mu_b = mu

        self.latent_sliders = [
            widgets.FloatSlider(value=0.0, min=-limit, max=limit, step=0.25, description=f"z[{d}]",
                                readout_format=".2f").add_class("vae-latent-slider")
            for d in self.dimensions
        ]
        self.temperature_slider = widgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.1, description="temperature").add_class("vae-temperature-slider")
        self.interpolation_slider = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.1, description="A → B").add_class("vae-interpolation-slider")
        self.latent_image, self.latent_label = _picture(), _label()
        self.temperature_image, self.temperature_label = _picture(), _label()
        self.interpolation_image, self.interpolation_label = _picture(), _label()
        originals = widgets.Image(value=to_png(np.stack([image_a, image_b])), format="png")

        for slider in self.latent_sliders:
            slider.observe(self.update_latent, names="value")
        self.temperature_slider.observe(self.update_temperature, names="value")
        self.interpolation_slider.observe(self.update_interpolation, names="value")
        self.update_latent()
        self.update_temperature()
        self.update_interpolation()

        def panel(title, controls, picture, label):
            return widgets.VBox([widgets.HTML(f"<b>{title}</b>"), *controls, label, picture])

        super().__init__([
            panel("1. Generation: decode a z you choose (dimensions with the most KL first)",
                  self.latent_sliders, self.latent_image, self.latent_label),
            panel("2. Generation: decode random z ~ N(0, T² I)",
                  [self.temperature_slider], self.temperature_image, self.temperature_label),
            panel("3. Interpolation between the encodings of two images",
                  [widgets.Label("Image A and image B (the originals):"), originals, self.interpolation_slider],
                  self.interpolation_image, self.interpolation_label),
        ])
        self.add_class("vae-explorer")

    def _decode(self, z):
        return np.asarray(self.decoder(np.asarray(z, "float32"), training=False))

    def latent_vector(self) -> np.ndarray:
        """z as the sliders set it: 0 everywhere except the slider dimensions."""
        z = np.zeros(self.decoder.input_shape[-1], "float32")
        for dimension, slider in zip(self.dimensions, self.latent_sliders):
            z[dimension] = slider.value
        return z

    def update_latent(self, change=None):
        self.latent_image.value = to_png(self._decode(self.latent_vector()[None]), scale=3)
        moved = [f"dimension {d} = {s.value:.2f}" for d, s in zip(self.dimensions, self.latent_sliders) if s.value]
        self.latent_label.value = ("Generated from z with " + (", ".join(moved) if moved else "every dimension = 0")
                                   + (", all other dimensions 0" if moved else " (the prior's mean)"))

    def update_temperature(self, change=None):
        t = self.temperature_slider.value
        self.temperature_image.value = to_png(self._decode(t * self.noise))
        self.temperature_label.value = f"Generated from {len(self.noise)} random z ~ N(0, T² I) with temperature T = {t:.1f}"

    def update_interpolation(self, change=None):
        t = self.interpolation_slider.value
        z = (1 - t) * self.mu_a + t * self.mu_b
        self.interpolation_image.value = to_png(self._decode(z[None]), scale=3)
        self.interpolation_label.value = (f"Interpolation: decoded from {t:.0%} of the way from the encoding "
                                          "of image A to the encoding of image B")
