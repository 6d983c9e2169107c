"""An ipywidgets explorer for a trained VAE: move a slider, see the decoded picture change.

Make it from a model and a few hundred images of its data set::

    explorer = LatentExplorer.from_images(model, images)   # images: (N, 64, 64, 3) in [0, 1]

Four panels, each a picture (``ipywidgets.Image``, PNG bytes) with a label that says what
it shows:

1. **Generation from chosen z**: one slider per principal direction of the data set's codes
   (``vae_tutorial.generation.directions``); slider ``i`` at ``s_i`` decodes z = mean code + Σ s_i · sd_i · v_i,
   so every slider at 0 is the mean code and ±3 is three standard deviations of the data.
2. **Generation at a temperature**: eight images decoded from z ~ N(0, T² I), T on a slider.
3. **Interpolation**: pick image A and image B of the data set; the decoded point a fraction
   t of the way from the encoding of A to the encoding of B.
4. **Your own image**: upload a picture (``FileUpload``); it is prepared as the data set is
   (``data.preprocess_image``), encoded and decoded, and the label says where its code lies
   along the sliders. A file that is not a usable image gives a one-line message.

CSS classes, for finding the parts in a browser: ``vae-explorer`` (the whole box),
``vae-latent-slider``, ``vae-temperature-slider``, ``vae-interpolation-slider``,
``vae-upload``, ``vae-explorer-image`` (every picture that updates) and ``vae-explorer-label``.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from PIL import Image, UnidentifiedImageError

from vae_tutorial.data.images import preprocess_image
from vae_tutorial.evaluation.codes import encode
from vae_tutorial.generation.directions import LatentDirections, principal_directions, slider_effects
from vae_tutorial.prior import fixed_latents


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


def read_upload(content, image_size: int) -> np.ndarray:
    """The bytes of an uploaded file → an image (image_size, image_size, 3) in [0, 1], prepared as
    :func:`vae_tutorial.data.preprocess_image` prepares the data set's files.

    Raises ``ValueError`` with a one-line reason when the bytes are not a usable image.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "upload"
        path.write_bytes(bytes(content))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning: preprocess_image checks size
                return preprocess_image(path, image_size)
        except UnidentifiedImageError:
            raise ValueError("not an image Pillow can read") from None
        except Image.DecompressionBombError:
            raise ValueError(f"image too large (over {Image.MAX_IMAGE_PIXELS * 2} pixels)") from None
        except Exception as exc:  # a user's file: Pillow's decoders raise many kinds of error on damaged data
            reason = " ".join(str(exc).split()) or type(exc).__name__
            if reason.startswith(("empty file", "image too large")):  # preprocess_image's own checks
                raise ValueError(reason) from None
            raise ValueError(f"corrupt or unreadable image ({reason})") from None


def _picture():
    return widgets.Image(format="png").add_class("vae-explorer-image")


def _label(text=""):
    return widgets.Label(text).add_class("vae-explorer-label")


def _signed(values) -> str:
    return ", ".join(f"{v:+.1f}" for v in values)


class LatentExplorer(widgets.VBox):
    """The explorer for ``model``, its sliders along ``directions``; usually made by :meth:`from_images`.

    Args:
        model: a trained ``VAE``.
        directions: the ``LatentDirections`` of the data set's codes (``vae_tutorial.generation.directions``), one slider each.
        images: data-set images (N, H, W, 3) in [0, 1], N ≥ 2, to pick image A and image B from.
        limit: the latent sliders run from ``-limit`` to ``limit`` standard deviations (default 3).
        index_a, index_b: the images first shown as A and B (default 0 and 1).
        n_samples, seed: the temperature panel decodes ``n_samples`` fixed z of this seed.
    """

    def __init__(self, model, directions: LatentDirections, images, limit: float = 3.0, index_a: int = 0,
                 index_b: int = 1, n_samples: int = 8, seed: int = 0):
        self.model = model
        self.decoder = model.decoder
        latent_dim = self.decoder.input_shape[-1]
        if not isinstance(directions, LatentDirections) or directions.directions.shape[1] != latent_dim:
            raise ValueError(f"Argument `directions` must be the LatentDirections of this model's codes "
                             f"({latent_dim} dimensions). Received: directions={type(directions).__name__}")
        self.images = np.asarray(images, "float32")
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or len(self.images) < 2:
            raise ValueError("Argument `images` must be an array (N, height, width, 3) of at least 2 images. "
                             f"Received: images.shape={self.images.shape}")
        for name, index in (("index_a", index_a), ("index_b", index_b)):
            if not 0 <= index < len(self.images):
                raise ValueError(f"Argument `{name}` must be in [0, {len(self.images)}). Received: {name}={index}")
        if not limit > 0:
            raise ValueError(f"Argument `limit` must be positive. Received: limit={limit}")
        self.directions, self.limit = directions, float(limit)
        self.noise = fixed_latents(n_samples, latent_dim, seed)  # z ~ N(0, I); times T below
        self.upload_coordinates = None  # where the last good upload lies along the sliders, in sd
        self._holding = False  # True while several sliders are set at once

        # 1. Generation along the directions
        self.latent_sliders = [
            widgets.FloatSlider(value=0.0, min=-limit, max=limit, step=0.1, description=f"PC {i + 1}",
                                readout_format="+.1f").add_class("vae-latent-slider")
            for i in range(len(directions))
        ]
        self.reset_button = widgets.Button(description="Back to the mean code")
        self.reset_button.on_click(lambda _: self.set_sliders(np.zeros(len(directions))))
        self.latent_image, self.latent_label = _picture(), _label()

        # 2. Temperature
        self.temperature_slider = widgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.1, description="temperature").add_class("vae-temperature-slider")
        self.temperature_image, self.temperature_label = _picture(), _label()

        # 3. Interpolation between two images of the data set
        last = len(self.images) - 1
        self.image_a_picker = widgets.IntSlider(value=index_a, min=0, max=last, description="image A")
        self.image_b_picker = widgets.IntSlider(value=index_b, min=0, max=last, description="image B")
        self.interpolation_slider = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.1, description="A → B").add_class("vae-interpolation-slider")
        self.originals_image = _picture()
        self.interpolation_image, self.interpolation_label = _picture(), _label()

        # 4. Your own image
        self.upload = widgets.FileUpload(accept="image/*", multiple=False,
                                         description="Upload an image").add_class("vae-upload")
        self.to_upload_button = widgets.Button(description="Move the sliders to it", disabled=True)
        self.to_upload_button.on_click(lambda _: self.set_sliders(self.upload_coordinates))
        self.upload_image = _picture()
        self.upload_label = _label("Upload a picture (PNG, JPEG, GIF, WebP, ...) to encode it with this model.")

        for slider in self.latent_sliders:
            slider.observe(self.update_latent, names="value")
        self.temperature_slider.observe(self.update_temperature, names="value")
        for picker in (self.image_a_picker, self.image_b_picker):
            picker.observe(self.update_pair, names="value")
        self.interpolation_slider.observe(self.update_interpolation, names="value")
        self.upload.observe(self.update_upload, names="value")
        self.update_latent()
        self.update_temperature()
        self.update_pair()

        def panel(title, controls, label, picture):
            return widgets.VBox([widgets.HTML(title), *controls, label, picture])

        super().__init__([
            panel("<b>1. Generation: decode a z you choose</b><br>Each slider moves z from the mean code of the "
                  "data set along one principal direction of its codes (PC 1 varies most), in standard deviations "
                  "of the codes along that direction.",
                  [*self.latent_sliders, self.reset_button], self.latent_label, self.latent_image),
            panel("<b>2. Generation: decode random z ~ N(0, T² I)</b>",
                  [self.temperature_slider], self.temperature_label, self.temperature_image),
            panel("<b>3. Interpolation between the encodings of two images of the data set</b>",
                  [self.image_a_picker, self.image_b_picker, widgets.Label("Image A and image B (the originals):"),
                   self.originals_image, self.interpolation_slider],
                  self.interpolation_label, self.interpolation_image),
            panel("<b>4. Encode your own image</b>",
                  [self.upload, self.to_upload_button], self.upload_label, self.upload_image),
        ])
        self.add_class("vae-explorer")

    @classmethod
    def from_images(cls, model, images, n_sliders: int = 6, **options) -> LatentExplorer:
        """The explorer with ``n_sliders`` sliders along the principal directions of the posterior means
        of ``images`` (N, H, W, 3) in [0, 1], N ≥ 2 (fewer sliders when the codes have fewer directions).
        ``options`` are those of the constructor (``limit``, ``index_a``, ``index_b``, ``n_samples``, ``seed``)."""
        return cls(model, principal_directions(model, images, n_sliders), images, **options)

    def _decode(self, z):
        return np.asarray(self.decoder(np.asarray(z, "float32"), training=False))

    def slider_values(self) -> np.ndarray:
        """The sliders' values ``s`` (n,), in standard deviations along each direction."""
        return np.array([slider.value for slider in self.latent_sliders], "float32")

    def latent_vector(self) -> np.ndarray:
        """z as the sliders set it: mean code + Σ s_i · sd_i · v_i, shape (latent_dim,)."""
        return self.directions.point(self.slider_values())

    def set_sliders(self, values) -> None:
        """Move every slider at once (each value clipped to the sliders' range), then decode once."""
        self._holding = True
        try:
            for slider, value in zip(self.latent_sliders, np.clip(values, -self.limit, self.limit)):
                slider.value = round(float(value), 1)
        finally:
            self._holding = False
        self.update_latent()

    def slider_effects(self) -> np.ndarray:
        """For each slider, the mean absolute change of the decoded picture between its two ends
        (``vae_tutorial.generation.directions.slider_effects``): shape (n,), in [0, 1]."""
        return slider_effects(self.decoder, self.directions, self.limit)

    def update_latent(self, change=None):
        if self._holding:
            return
        self.latent_image.value = to_png(self._decode(self.latent_vector()[None]), scale=3)
        self.latent_label.value = ("Generated from z = mean code + Σ s_i · sd_i · v_i with s = ("
                                   + _signed(self.slider_values()) + ")")

    def update_temperature(self, change=None):
        t = self.temperature_slider.value
        self.temperature_image.value = to_png(self._decode(t * self.noise))
        self.temperature_label.value = (f"Generated from {len(self.noise)} random z ~ N(0, T² I) "
                                        f"with temperature T = {t:.1f}")

    def update_pair(self, change=None):
        """Encode the newly picked images A and B, show them, and decode the interpolation again."""
        pair = self.images[[self.image_a_picker.value, self.image_b_picker.value]]
        self.originals_image.value = to_png(pair)
        self.mu_a, self.mu_b = encode(self.model, pair)[0]
        self.update_interpolation()

    def update_interpolation(self, change=None):
        t = self.interpolation_slider.value
        z = (1 - t) * self.mu_a + t * self.mu_b
        self.interpolation_image.value = to_png(self._decode(z[None]), scale=3)
        self.interpolation_label.value = (f"Interpolation: decoded from {t:.0%} of the way from the encoding of "
                                          f"image A (#{self.image_a_picker.value}) to the encoding of image B "
                                          f"(#{self.image_b_picker.value})")

    def update_upload(self, change=None):
        """Encode the uploaded file and show it, its reconstruction and its place along the sliders."""
        if not self.upload.value:
            return
        upload = self.upload.value[-1]
        name = upload.get("name", "the upload")
        try:
            image = read_upload(upload["content"], self.images.shape[1])
        except ValueError as exc:
            self.upload_coordinates = None
            self.to_upload_button.disabled = True
            self.upload_image.value = b""
            self.upload_label.value = f"Could not use {name!r}: {exc}"
            return
        mu = encode(self.model, image[None])[0]
        self.upload_coordinates = self.directions.coordinates(mu[0])
        self.to_upload_button.disabled = False
        self.upload_image.value = to_png(np.concatenate([image[None], self._decode(mu)]), scale=3)
        self.upload_label.value = (f"{name!r} (left) and its reconstruction (right); its code lies at s = ("
                                   + _signed(self.upload_coordinates) + ") standard deviations along the sliders")
