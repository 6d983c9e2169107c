"""Images in, tensors out: preprocessing, finding images in a folder, the tf.data pipeline.

Every image goes through :func:`preprocess_image`: decode with Pillow (EXIF orientation
applied), convert to RGB (greyscale expanded, alpha composited on white, 16-bit scaled
down, palette and CMYK converted), centre-crop to a square, resize to 64×64 and scale
to [0, 1].
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 64
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)
# Larger images are refused instead of decoded (a decompression-bomb guard): Pillow's own
# limit, about 89 million pixels (9 459 × 9 459). A 10 000 × 10 000 PNG would need 300 MB per
# decoding thread only to be shrunk to 64 × 64.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


class DataError(ValueError):
    """A folder or data set that cannot be used; the message is one line for the user."""


@dataclass
class ImageFolder:
    """What :func:`find_images` found: the usable images and the skipped files with reasons."""

    directory: Path
    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def report(self, limit: int = 20) -> str:
        """A short human-readable report of what was skipped and why."""
        lines = [f"{len(self.paths)} usable images in {self.directory}, {len(self.skipped)} skipped"]
        for path, reason in self.skipped[:limit]:
            lines.append(f"  skipped {path}: {reason}")
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# One image
# ---------------------------------------------------------------------------------------


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


def preprocess_image(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Read one image file and return a float32 array (image_size, image_size, 3) in [0, 1].

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
        return np.asarray(img, dtype=np.float32) / 255.0


def _skip_reason(path: Path, image_size: int) -> str | None:
    """None if the file decodes to a usable image, else a short reason."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning; we check size ourselves
            preprocess_image(path, image_size)
    except PermissionError:
        return "permission denied"
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Image.DecompressionBombError as exc:
        return f"image too large ({exc})"
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        message = str(exc).strip() or type(exc).__name__
        if message.startswith(("empty file", "image too large")):
            return message
        return f"corrupt or unreadable image ({message})"
    return None


# ---------------------------------------------------------------------------------------
# A folder
# ---------------------------------------------------------------------------------------


def _walk(directory: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Every candidate image file under ``directory``, sorted, plus files skipped by name."""
    candidates, skipped = [], []
    for root, dirs, files in os.walk(directory, onerror=None, followlinks=False):
        dirs.sort()
        for name in dirs:
            if Path(name).suffix.lower() in IMAGE_EXTENSIONS:
                skipped.append((Path(root) / name, "a folder, not an image file (its contents are searched)"))
        for name in sorted(files):
            path = Path(root) / name
            if name.startswith("."):
                continue  # hidden files (.DS_Store, editor swap files) are not part of a data set
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append((path, f"not an image file type ({path.suffix or 'no extension'})"))
            elif path.is_symlink() and not path.exists():
                skipped.append((path, "broken or looping symbolic link"))
            elif not path.is_file():
                skipped.append((path, "not a regular file"))
            else:
                candidates.append(path)
    return candidates, skipped


def find_images(
    directory: str | os.PathLike,
    image_size: int = IMAGE_SIZE,
    progress: bool = True,
    workers: int | None = None,
) -> ImageFolder:
    """Search ``directory`` recursively for usable images.

    Every candidate is decoded once (in parallel threads, with a progress bar): a file
    counts as usable only if it decodes. Returns an :class:`ImageFolder` with the usable
    paths (sorted) and each skipped file with its reason. A missing or empty folder
    raises :class:`DataError`.
    """
    directory = Path(directory)
    if not directory.exists():
        raise DataError(f"data folder not found: {directory}")
    if not directory.is_dir():
        raise DataError(f"not a folder: {directory}")
    candidates, skipped = _walk(directory)
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        results = pool.map(lambda p: _skip_reason(p, image_size), candidates)
        if progress and candidates:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(candidates), desc="Reading images", unit="img", leave=False)
        reasons = list(results)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # Ctrl-C: drop the images not started yet
    found = ImageFolder(directory)
    for path, reason in zip(candidates, reasons):
        if reason is None:
            found.paths.append(path)
        else:
            skipped.append((path, reason))
    found.skipped = sorted(skipped)
    if not found.paths:
        raise DataError(f"no usable images in {directory} ({len(found.skipped)} files skipped)")
    return found


# ---------------------------------------------------------------------------------------
# The tf.data pipeline
# ---------------------------------------------------------------------------------------


def split_paths(
    paths: Sequence[Path],
    validation_split: float,
    seed: int = 0,
    group_of: Callable[[Path], Hashable] | None = None,
) -> tuple[list[Path], list[Path]]:
    """Split paths into training and validation by group, so no group straddles the split.

    ``group_of`` maps a path to its group (for the emoji set: the base emoji, so skin-tone
    variants stay together). Without it every file is its own group.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    group_of = group_of or (lambda p: p)
    groups: dict[Hashable, list[Path]] = {}
    for path in paths:
        groups.setdefault(group_of(path), []).append(path)
    keys = sorted(groups, key=str)
    order = np.random.default_rng(seed).permutation(len(keys))
    n_val = int(round(validation_split * len(keys)))
    if validation_split > 0 and len(keys) >= 2:
        n_val = min(max(n_val, 1), len(keys) - 1)
    val_keys = {keys[i] for i in order[:n_val]}
    train = [p for k in keys if k not in val_keys for p in groups[k]]
    val = [p for k in keys if k in val_keys for p in groups[k]]
    return train, val


def make_pipeline(
    paths: Sequence[Path],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    image_size: int = IMAGE_SIZE,
    drop_remainder: bool = False,
):
    """A ``tf.data`` pipeline of float32 batches (B, image_size, image_size, 3) from image paths.

    decode in parallel → cache (decoded once, reused every epoch) → shuffle with a seed
    → batch → prefetch (the next batch is prepared while the model trains).
    """
    import tensorflow as tf

    def load(path):
        image = tf.numpy_function(
            lambda p: preprocess_image(p.decode(), image_size), [path], tf.float32, stateful=False
        )
        image.set_shape((image_size, image_size, 3))
        return image

    ds = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_dataset(
    directory: str | os.PathLike,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    validation_split: float | None = None,
    image_size: int = IMAGE_SIZE,
    group_of: Callable[[Path], Hashable] | None = None,
    progress: bool = True,
):
    """Find the usable images in ``directory`` and return tf.data pipeline(s).

    With ``validation_split`` (a fraction) returns ``(train, validation)``, split by
    ``group_of`` (see :func:`split_paths`); without it, one pipeline. The validation
    pipeline is never shuffled. Call :func:`find_images` yourself when you want the
    report of skipped files.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    folder = find_images(directory, image_size=image_size, progress=progress)
    if not validation_split:
        return make_pipeline(folder.paths, batch_size, shuffle, seed, image_size)
    train, val = split_paths(folder.paths, validation_split, seed, group_of)
    return (
        make_pipeline(train, batch_size, shuffle, seed, image_size),
        make_pipeline(val, batch_size, False, seed, image_size),
    )


# ---------------------------------------------------------------------------------------
# Looking at images
# ---------------------------------------------------------------------------------------


def visualize_batch(
    batch,
    n: int | None = None,
    ncols: int = 8,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    cell_size: float = 1.0,
):
    """A matplotlib Figure with a grid of images from ``batch`` (N, H, W, 3) in [0, 1].

    ``row_labels`` names each row (for example "Original" / "Reconstruction").
    The grid is one picture (the images side by side, white lines between them) on one Axes:
    an Axes per image took several times as long to draw, and training draws a grid after
    every epoch.
    """
    from matplotlib.figure import Figure  # not pyplot: nothing to close, no global state

    images = np.clip(np.asarray(batch, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"batch must have shape (N, H, W, 3), got {images.shape}")
    if n is not None:
        images = images[:n]
    if len(images) == 0:
        raise ValueError("batch has no images to draw")
    ncols = max(1, min(ncols, len(images)))
    nrows = int(np.ceil(len(images) / ncols))
    height, width = images.shape[1:3]
    gap = max(1, height // 32)  # white pixels between neighbours
    grid = np.ones((nrows * (height + gap) - gap, ncols * (width + gap) - gap, 3), np.float32)
    for i, image in enumerate(images):
        row, col = divmod(i, ncols)
        grid[row * (height + gap):row * (height + gap) + height, col * (width + gap):col * (width + gap) + width] = image
    label_width = 1.2 if row_labels else 0.0
    fig = Figure(figsize=(ncols * cell_size + label_width, nrows * cell_size + (0.4 if title else 0)))
    left = label_width / fig.get_figwidth() if row_labels else 0.01
    top = (1 - 0.45 / fig.get_figheight()) if title else 0.99
    ax = fig.add_axes((left, 0.01, 0.99 - left, top - 0.01))
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    labels = list(row_labels[:nrows]) if row_labels else []
    ax.set_yticks([r * (height + gap) + (height - 1) / 2 for r in range(len(labels))], labels, fontsize=10)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig
