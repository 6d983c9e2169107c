"""One image file in, one 64×64 RGB array out.

Every image goes through :func:`decode_image`: decode with Pillow (EXIF orientation applied),
convert to RGB (greyscale expanded, alpha composited on white, 16-bit scaled down, palette and
CMYK converted), centre-crop to a square and resize, as uint8; :func:`preprocess_image` scales
it to [0, 1]. Files that cannot be used raise :class:`DataError` with a one-line reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL
from PIL import Image, ImageOps

from vae_tutorial.config import IMAGE_SIZE


IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


# Larger images are refused instead of decoded (a decompression-bomb guard): Pillow's own
# limit, about 89 million pixels (9 459 × 9 459). A 10 000 × 10 000 PNG would need 300 MB per
# decoding thread only to be shrunk to 64 × 64.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


# Names the decoder in the image cache's key: change it whenever decode_image's output changes, so
# that caches of the old output are rebuilt.
DECODER_VERSION = f"decode_image 1, Pillow {PIL.__version__}"


class DataError(ValueError):
    """A folder or data set that cannot be used; the message is one line for the user."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit RGB, alpha composited on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) greyscale: Pillow's convert("L") clips at 255,
        # so scale the full 16-bit range down ourselves.
        arr = np.asarray(img, dtype=np.float64)
        arr = np.clip(arr / 257.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), mode="L").convert("RGB")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, img).convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return img


def decode_image(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Read one image file and return a uint8 array (image_size, image_size, 3).

    Raises ``OSError``/``ValueError`` (from Pillow or from the checks here) when the file
    cannot be used; :func:`find_images` turns those into skip reasons.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    with Image.open(path) as img:
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ValueError(f"image too large ({width}×{height} pixels)")
        img.draft("RGB", (image_size, image_size))  # JPEG: decode at reduced size, much faster
        img = ImageOps.exif_transpose(img)
        img = _to_rgb(img)
        img = ImageOps.fit(img, (image_size, image_size), method=Image.Resampling.LANCZOS)
        return np.asarray(img, dtype=np.uint8)


def preprocess_image(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Read one image file and return a float32 array (image_size, image_size, 3) in [0, 1].

    :func:`decode_image` divided by 255; raises as it does.
    """
    return decode_image(path, image_size).astype(np.float32) / 255.0
