"""A folder in, its usable images out: :func:`find_images` walks a folder, decodes each file once
(in threads, with progress) and keeps the decoded images in the image cache
(:mod:`vae_tutorial.data.cache`); files it cannot use are listed with the reason.
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

import vae_tutorial.data.cache as image_cache
from vae_tutorial.data.images import DECODER_VERSION, IMAGE_EXTENSIONS, IMAGE_SIZE, DataError, decode_image


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
    :func:`vae_tutorial.data.cache.default_cache_dir`), ``memory_budget`` (bytes of images
    held in memory, beyond which they are read from disk) and ``log`` (one-line notes about
    the cache) are described in :func:`vae_tutorial.data.cache.load_or_build`.

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
