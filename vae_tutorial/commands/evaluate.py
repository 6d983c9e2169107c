"""``vae-tutorial evaluate``: a model's bounds on held-out images, and the two-sample test of its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae_tutorial import config
from vae_tutorial.config import UsageError
from vae_tutorial.data.folders import find_images
from vae_tutorial.data.pipeline import make_pipeline, split_paths
from vae_tutorial.data.sources import SHAPES_DIR, data_key, resolve_data
from vae_tutorial.evaluation.bounds import decoder_log_variance, evaluate
from vae_tutorial.evaluation.two_sample import classifier_two_sample_test
from vae_tutorial.generation.images import generate
from vae_tutorial.generation.run_mixture import run_mixture
from vae_tutorial.training import runs

BATCH_SIZE = 64  # images encoded at once


def held_out_images(model_path: Path, data: str, image_size: int, n: int | None = None, seed: int = config.SEED,
                    log=print):
    """``(paths, phrase, group_of)``: the held-out images of ``data`` for the model at ``model_path``, a phrase
    that says which they are, and the data set's function path → group (None: each image its own).

    Held out: the validation split of the run's ``config.json`` when ``data`` is what the run trained on
    (without one, train's defaults), else every image of ``data``; of them, ``n`` chosen with ``seed`` (None:
    all). Raises :class:`~vae_tutorial.config.UsageError` when fewer than 2 remain or the config is unreadable.
    """
    try:
        settings = runs.read_config(model_path.parent) or {}
    except runs.RunFolderError as exc:
        raise UsageError(str(exc)) from None
    split = settings.get("validation_split", config.VALIDATION_SPLIT)
    run_seed = settings.get("seed", config.SEED)
    trained_on_data = settings.get("data", data_key(data)) == data_key(data)
    shapes_dir = model_path.parent if settings.get("data") == "shapes" else SHAPES_DIR
    folder_path, group_of, name = resolve_data(data, shapes_dir, run_seed, settings.get("shapes") or config.SHAPES,
                                               log=log)
    paths = find_images(folder_path, image_size=image_size).paths
    if not trained_on_data:
        which = f"every image of {name} (the model was trained on {settings.get('data')})"
    else:
        _, paths = split_paths(paths, split, run_seed, group_of)
        if not paths:
            raise UsageError(f"the run held out no images of {name} (validation split {split}); "
                             "give other images with --data FOLDER")
        source = "as in the run's config.json" if settings else "train's defaults: no config.json beside the model"
        which = f"the validation split {split} (seed {run_seed}) of {name} ({source})"
    if n is not None and n < len(paths):
        paths = [paths[i] for i in sorted(np.random.default_rng(seed).permutation(len(paths))[:n])]
    if len(paths) < 2:
        raise UsageError(f"evaluate needs at least 2 held-out images; found {len(paths)} in {which}")
    return paths, which, group_of


def evaluate_held_out(model, paths, k: int = config.IWAE_SAMPLES, seed: int = config.SEED, log=print):
    """``(numbers, pipeline)``: :func:`~vae_tutorial.evaluation.bounds.evaluate` of ``model`` on the images
    ``paths`` with ``k`` importance samples, and the pipeline of those images. Says (``log``) the decoder
    variance it evaluates at."""
    pipeline = make_pipeline(paths, batch_size=BATCH_SIZE, shuffle=False, image_size=model.image_size)
    try:
        log_variance = decoder_log_variance(model, pipeline, seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    mode = getattr(model, "decoder_variance", "fixed")
    log(f"decoder variance: {mode}, σ² = {np.exp(log_variance):.3g}"
        + (" (the per-value MSE of these images decoded from one z ~ q(z|x) each)" if mode == "optimal" else ""))
    return evaluate(model, pipeline, k=k, seed=seed, log_variance=log_variance, progress=True), pipeline


def two_sample_tests(model, model_path: Path, pipeline, paths, group_of, seed: int = config.SEED,
                     log=print) -> dict:
    """``{sampler: the numbers of the classifier two-sample test}`` of the held-out images (``pipeline`` of
    ``paths``) against as many generated from the prior and from the run's mixture of the codes."""
    real = np.concatenate(list(pipeline.as_numpy_iterator()))
    groups = [group_of(p) for p in paths] if group_of else None
    samplers = {"prior": None, "mixture": run_mixture(model_path, model, config.MIXTURE_COMPONENTS, log=log)}
    results = {}
    for name, mixture in samplers.items():
        generated = generate(model, len(real), seed=seed, mixture=mixture)
        results[name] = classifier_two_sample_test(real, generated, groups=groups, seed=seed)
    return results
