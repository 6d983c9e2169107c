"""Images to batches: the train/validation split and the ``tf.data`` pipeline that reads the image
cache (:func:`make_pipeline`), and :func:`load_dataset`, the one call the notebooks use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Hashable, Sequence

import numpy as np

import vae_tutorial.data.cache as image_cache
from vae_tutorial.data.folders import find_images
from vae_tutorial.data.images import IMAGE_SIZE, decode_image, preprocess_image


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


def take_images(dataset, n: int) -> np.ndarray:
    """The first ``n`` images of a batched ``tf.data`` pipeline as one array.

    Reads the whole pipeline: stopping early would make a cached pipeline discard its
    cache (and TensorFlow warn about it).
    """
    taken, count = [], 0
    for batch in dataset:
        if count < n:
            taken.append(np.asarray(batch))
            count += len(taken[-1])
    return np.concatenate(taken)[:n]
