"""The images a run trains on: of one worker, the whole folder; of several, each worker's share of it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from vae_tutorial.config import UsageError
from vae_tutorial.data.folders import decode_files, find_images, first_usable, list_images
from vae_tutorial.data.pipeline import read_images, split_paths
from vae_tutorial.training import runs
from vae_tutorial.training.distribute import gather_from_workers, worker_share

FIGURE_IMAGES = 16  # validation images in reconstructions.png


@dataclasses.dataclass
class WorkerImages:
    """The images one worker trains on (with one worker: all the images of the folder)."""

    train: list  # this worker's usable training images (paths)
    val: list  # this worker's usable validation images
    skipped: list  # (path, reason): the files skipped by name, and the files of this worker that do not decode
    files: tuple  # (training, validation) files of this worker, usable or not
    per_worker: tuple  # (training, validation) images each worker takes per epoch
    figure_files: list  # the validation files every worker draws the reconstruction figure's images from


def read_worker_images(folder_path, group_of, validation_split: float, seed: int, index: int = 0,
                       workers: int = 1, log=print, **cache) -> WorkerImages:
    """Worker ``index`` of ``workers``: the images it trains on. ``cache``: the cache arguments of
    :func:`~vae_tutorial.data.folders.find_images` (``image_size``, ``cache_dir``, ``memory_budget``, ...).

    One worker decodes every image of the folder. Several each decode only their share: every worker lists
    the same files and splits them into training and validation files by their paths alone, so all workers
    agree on the split without decoding; each then decodes every ``workers``-th file of each side (see
    :func:`~vae_tutorial.training.distribute.worker_share`) into a cache of its own. The usable images are this
    worker's; so are the skipped files, those skipped by name and those of this worker's share that do not
    decode, which only this worker knows. Whether every share is usable is for :func:`check_worker_images`
    to say, on every worker at once.
    """
    if workers == 1:
        folder = find_images(folder_path, log=log, **cache)
        train, val = split_paths(folder.paths, validation_split, seed, group_of)
        return WorkerImages(train, val, folder.skipped, (len(train), len(val)), (len(train), len(val)), val or train)
    candidates, skipped = list_images(folder_path)
    train_files, val_files = split_paths(candidates, validation_split, seed, group_of)
    mine = worker_share(train_files, index, workers), worker_share(val_files, index, workers)
    log(f"worker {index} of {workers}: decoding its share, {len(mine[0]) + len(mine[1]):,} of the "
        f"{len(candidates):,} image files")
    found = decode_files(folder_path, mine[0] + mine[1], part=f"worker{index}of{workers}", log=log, **cache)
    usable = set(found.paths)
    train_paths, val_paths = ([p for p in files if p in usable] for files in mine)
    return WorkerImages(train_paths, val_paths, sorted(skipped + found.skipped), (len(mine[0]), len(mine[1])),
                        (len(train_files) // workers, len(val_files) // workers), val_files or train_files)


def report_worker_images(images: WorkerImages, out: Path, share: str = "", log=print) -> None:
    """Write ``out/skipped.txt`` (each skipped file with its reason) and say how many images are usable."""
    listing = "".join(f"{p}\t{r}\n" for p, r in images.skipped)
    runs.replace_atomically(lambda p: p.write_text(listing, encoding="utf-8"), out / "skipped.txt")
    log(f"{len(images.train) + len(images.val)} usable images, {len(images.skipped)} skipped{share}"
        + (f" (each listed with its reason in {out / 'skipped.txt'})" if images.skipped else ""))
    for path, reason in images.skipped[:5]:
        log(f"  skipped {path}: {reason}")


def check_worker_images(images: WorkerImages, folder_path, index: int = 0, workers: int = 1, together=None) -> None:
    """Stop (:class:`~vae_tutorial.config.UsageError`) when a worker has no usable training image, or (of
    several workers) none of its files or none of its validation files decodes.

    ``together``: the strategy of the workers, which then exchange their numbers first
    (:func:`~vae_tutorial.training.distribute.gather_from_workers`), so that every worker stops, with the
    same line, when any one's share is unusable: none waits for a worker that has stopped. Without
    it, this worker checks its own images only.
    """
    mine = [len(images.train), len(images.val), *images.files]
    counts = enumerate(gather_from_workers(together, mine)) if together is not None else [(index, mine)]
    for worker, (train, val, train_files, val_files) in counts:
        if workers > 1 and not train + val:
            raise UsageError(f"none of the {train_files + val_files} image files of worker {worker}'s share of "
                             f"{folder_path} decodes (that worker lists them in its skipped.txt)")
        if workers > 1 and val_files and not val and images.per_worker[1] >= 1:
            raise UsageError(f"none of worker {worker}'s {val_files} validation files decodes; "
                             "choose another --seed or --validation-split")
        if not train:
            raise UsageError(f"no training images left after the validation split of {folder_path}"
                             + (f" in worker {worker}'s share" if workers > 1 else ""))


def figure_images(images: WorkerImages, seed: int, workers: int, image_size: int) -> np.ndarray:
    """The reconstruction figure's 16 validation images: the same on every worker."""
    files = images.figure_files
    chosen = np.random.default_rng(seed).permutation(len(files))
    if workers > 1:  # decoded here, the first 16 usable ones: no worker holds them all
        return first_usable([files[i] for i in chosen], FIGURE_IMAGES, image_size)
    return read_images([files[i] for i in sorted(chosen[:FIGURE_IMAGES])], image_size)
