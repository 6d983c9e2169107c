"""Images in, tensors out: preprocessing, finding images in a folder, the tf.data pipeline.

Every image goes through :func:`decode_image`: decode with Pillow (EXIF orientation
applied), convert to RGB (greyscale expanded, alpha composited on white, 16-bit scaled
down, palette and CMYK converted), centre-crop to a square and resize to 64×64, as uint8;
:func:`preprocess_image` scales it to [0, 1]. :func:`find_images` decodes each file of a
folder once and keeps the decoded images in the image cache (:mod:`vae_tutorial.image_cache`,
in memory or on disk), which :func:`make_pipeline` reads and later runs reuse.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np
import PIL
from PIL import Image, ImageOps, UnidentifiedImageError

from vae_tutorial import image_cache

IMAGE_SIZE = 64
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


@dataclass
class ImageFolder:
    """What :func:`find_images` found: the usable images and the skipped files with reasons.

    ``images`` holds the decoded images of ``paths`` (uint8, one row per path, in order), which
    :func:`make_pipeline` and :func:`read_images` read while this object, or a pipeline made
    from it, is in use.
    """

    directory: Path
    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    images: image_cache.ImageStore | None = None

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


def _read_image(path: Path, image_size: int) -> image_cache.Decoded:
    """``(uint8 image, None)`` when the file decodes to a usable image, else ``(None, a short reason)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's DecompressionBombWarning; we check size ourselves
            return decode_image(path, image_size), None
    except PermissionError:
        return None, "permission denied"
    except UnidentifiedImageError:
        return None, "not an image Pillow can read"
    except Image.DecompressionBombError as exc:
        return None, f"image too large ({exc})"
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        message = str(exc).strip() or type(exc).__name__
        if message.startswith(("empty file", "image too large")):
            return None, message
        return None, f"corrupt or unreadable image ({message})"


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


def list_images(directory: str | os.PathLike) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The candidate image files under ``directory`` (sorted) and the files skipped by their names alone.

    Nothing is decoded: a candidate may still turn out unusable (see :func:`decode_files`). Each
    skipped file comes with its reason (not an image file type, a broken link, ...). A missing
    folder, or a path that is not a folder, raises :class:`DataError`.
    """
    directory = Path(directory)
    if not directory.exists():
        raise DataError(f"data folder not found: {directory}")
    if not directory.is_dir():
        raise DataError(f"not a folder: {directory}")
    return _walk(directory)


def find_images(
    directory: str | os.PathLike,
    image_size: int = IMAGE_SIZE,
    progress: bool = True,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    memory_budget: int | None = None,
    rebuild_cache: bool = False,
    log: Callable[[str], None] | None = None,
) -> ImageFolder:
    """Search ``directory`` recursively for usable images, decoding each one once.

    Every candidate file is decoded (in parallel threads, with a progress bar): a file counts
    as usable only if it decodes, and its decoded image is kept, as uint8, in the image cache
    for :func:`make_pipeline`. A later call on the unchanged folder reuses the cache instead
    of decoding again; ``rebuild_cache`` decodes again anyway. ``cache_dir`` (default
    :func:`vae_tutorial.image_cache.default_cache_dir`), ``memory_budget`` (bytes of images
    held in memory, beyond which they are read from disk) and ``log`` (one-line notes about
    the cache) are described in :func:`vae_tutorial.image_cache.load_or_build`.

    Returns an :class:`ImageFolder` with the usable paths and each skipped file with its
    reason. A missing or empty folder, or a cache that cannot be written where it must be,
    raises :class:`DataError`.
    """
    directory = Path(directory)
    candidates, skipped = list_images(directory)
    found = decode_files(directory, candidates, image_size, progress, workers, cache_dir=cache_dir,
                         memory_budget=memory_budget, rebuild_cache=rebuild_cache, log=log)
    found.skipped = sorted(skipped + found.skipped)
    if not found.paths:
        raise DataError(f"no usable images in {directory} ({len(found.skipped)} files skipped)")
    return found


def decode_files(
    directory: str | os.PathLike,
    files: Sequence[Path],
    image_size: int = IMAGE_SIZE,
    progress: bool = True,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    memory_budget: int | None = None,
    rebuild_cache: bool = False,
    log: Callable[[str], None] | None = None,
    part: str = "",
) -> ImageFolder:
    """Decode ``files`` (image files under ``directory``) once into the image cache, or reuse it.

    The cache is keyed by exactly these files, so a subset of a folder (one worker's share,
    told apart from the others by ``part``) has a cache of its own. Returns an
    :class:`ImageFolder` of the files that decode and the others with their reasons. The other
    arguments are those of :func:`find_images`.
    """
    try:
        store, skipped = image_cache.load_or_build(
            directory, files, image_size, lambda: _decode_in_order(files, image_size, progress, workers),
            DECODER_VERSION, cache_dir, memory_budget, rebuild_cache, progress, log, part)
    except image_cache.CacheError as exc:
        raise DataError(str(exc)) from None
    return ImageFolder(Path(directory), list(store.paths), skipped, store)


def first_usable(paths: Sequence[Path], n: int, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """The first ``n`` of ``paths`` that decode, in order, as float32 (at most n, image_size, image_size, 3) in [0, 1].

    Decoded here, not from the image cache; files that do not decode are passed over.
    """
    images = []
    for path in paths:
        if len(images) == n:
            break
        image, _ = _read_image(Path(path), image_size)
        if image is not None:
            images.append(image)
    return np.asarray(images, np.float32).reshape(-1, image_size, image_size, 3) / 255.0


def _decode_in_order(paths: Sequence[Path], image_size: int, progress: bool, workers: int | None):
    """A generator of :func:`_read_image` of each of ``paths``, in order, decoded in threads.

    At most a few images per thread are decoded ahead, so memory does not grow with the folder;
    on Ctrl-C (or when the generator is closed) the images not yet started are dropped.
    """
    workers = workers or min(8, (os.cpu_count() or 1) + 2)
    pool = ThreadPoolExecutor(max_workers=workers)
    bar = None
    if progress and paths:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="Reading images", unit="img", leave=False)
    waiting = iter(paths)
    started = deque(pool.submit(_read_image, path, image_size) for path in itertools.islice(waiting, 4 * workers))
    try:
        while started:
            result = started.popleft().result()
            started.extend(pool.submit(_read_image, path, image_size) for path in itertools.islice(waiting, 1))
            if bar is not None:
                bar.update()
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()


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
    """A ``tf.data`` pipeline of float32 batches (B, image_size, image_size, 3) in [0, 1] from image paths.

    When every one of ``paths`` is in an :class:`ImageFolder` still in use (from
    :func:`find_images` or :func:`load_dataset`, or read by a pipeline made from it), exactly
    as spelled there, the images come from its cache: row numbers
    → shuffle with a seed → batch → read the rows (uint8) → float32 → prefetch (the next batch
    is prepared while the model trains). Otherwise each file is decoded on the first pass and
    kept in memory as uint8 for the later ones.
    """
    import tensorflow as tf

    found = image_cache.find_store(paths, image_size)
    if found is not None:
        store, rows = found

        def read(rows):
            batch = tf.numpy_function(store.read, [rows], tf.uint8, stateful=False)
            batch.set_shape((None, image_size, image_size, 3))
            return batch

        ds = tf.data.Dataset.from_tensor_slices(rows)
        if shuffle:
            ds = ds.shuffle(max(1, len(rows)), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        def load(path):
            image = tf.numpy_function(lambda p: decode_image(p.decode(), image_size), [path], tf.uint8,
                                      stateful=False)
            image.set_shape((image_size, image_size, 3))
            return image

        ds = tf.data.Dataset.from_tensor_slices(tf.constant([os.fspath(p) for p in paths], dtype=tf.string))
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).cache()
        if shuffle:
            ds = ds.shuffle(max(1, len(paths)), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(lambda batch: tf.cast(batch, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def read_images(paths: Sequence[Path], image_size: int = IMAGE_SIZE) -> np.ndarray:
    """The images of ``paths`` as float32 (N, image_size, image_size, 3) in [0, 1], in order.

    Read from the cache of a live :class:`ImageFolder` that holds them all, else decoded here.
    """
    found = image_cache.find_store(paths, image_size)
    if found is None:
        return np.stack([preprocess_image(p, image_size) for p in paths]).reshape(-1, image_size, image_size, 3)
    store, rows = found
    return store.read(rows).astype(np.float32) / 255.0


def load_dataset(
    directory: str | os.PathLike,
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
    validation_split: float | None = None,
    image_size: int = IMAGE_SIZE,
    group_of: Callable[[Path], Hashable] | None = None,
    progress: bool = True,
    cache_dir: str | os.PathLike | None = None,
    memory_budget: int | None = None,
):
    """Find the usable images in ``directory`` and return tf.data pipeline(s).

    With ``validation_split`` (a fraction) returns ``(train, validation)``, split by
    ``group_of`` (see :func:`split_paths`); without it, one pipeline. The validation
    pipeline is never shuffled. The images are decoded once into the image cache (see
    :func:`find_images` for ``cache_dir`` and ``memory_budget``), which a later call on the
    unchanged folder reuses. Call :func:`find_images` yourself when you want the report of
    skipped files.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    folder = find_images(directory, image_size=image_size, progress=progress, cache_dir=cache_dir,
                         memory_budget=memory_budget)
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
