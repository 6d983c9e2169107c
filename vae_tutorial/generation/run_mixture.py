"""The mixture of a run's codes, kept as ``mixture.npz`` in its run folder: read when it was fitted to this
model file, else fitted to the run's training images and saved there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vae_tutorial import config
from vae_tutorial.config import UsageError
from vae_tutorial.data.folders import find_images
from vae_tutorial.data.pipeline import make_pipeline, split_paths
from vae_tutorial.data.sources import resolve_data
from vae_tutorial.generation.mixture import fit_code_mixture, load_code_mixture, save_code_mixture
from vae_tutorial.training import runs

MIXTURE_FILE = "mixture.npz"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def saved_mixture(model_path: Path, n_components: int = config.MIXTURE_COMPONENTS,
                  if_damaged: str = "fitting it again", log=print):
    """The mixture in the run folder of ``model_path`` if it was fitted to this model file with ``n_components``,
    else None. A damaged file is said so (``log``), with what happens instead (``if_damaged``)."""
    path = model_path.parent / MIXTURE_FILE
    if not path.exists():
        return None
    try:
        mixture, saved = load_code_mixture(path)
    except ValueError as exc:
        log(f"cannot read {path} ({exc}); {if_damaged}")
        return None
    return mixture if saved.get("model_sha256") == _sha256(model_path) and mixture.n_components == n_components \
        else None


def fit_run_mixture(model_path: Path, model, train_paths, seed: int,
                    n_components: int = config.MIXTURE_COMPONENTS, log=print):
    """Fit the mixture of the codes of (at most :data:`~vae_tutorial.config.MIXTURE_IMAGES` of) ``train_paths``
    and save it as ``mixture.npz`` beside ``model_path``, marked with the model file's SHA-256. With fewer
    training images than ``n_components``, as many components as images."""
    if len(train_paths) > config.MIXTURE_IMAGES:
        chosen = np.random.default_rng(seed).permutation(len(train_paths))[:config.MIXTURE_IMAGES]
        train_paths = [train_paths[i] for i in sorted(chosen)]
    n_components = min(n_components, len(train_paths))
    path = model_path.parent / MIXTURE_FILE
    log(f"fitting a mixture of {n_components} Gaussians to the codes of {len(train_paths)} training images")
    images = np.concatenate(list(make_pipeline(train_paths, 256, shuffle=False, image_size=model.image_size)
                                 .as_numpy_iterator()))
    mixture = fit_code_mixture(model, images, n_components=n_components, seed=seed)
    digest = _sha256(model_path)
    runs.replace_atomically(lambda p: save_code_mixture(mixture, p, model_sha256=digest), path)
    log(f"saved it to {path}")
    return mixture


def run_mixture(model_path: Path, model, n_components: int = config.MIXTURE_COMPONENTS, log=print):
    """The Gaussian mixture of the codes of the training images of the run that wrote ``model_path``.

    Read from ``mixture.npz`` in the run folder when it was fitted to this model file with
    ``n_components``; otherwise fitted now and saved there. Raises :class:`~vae_tutorial.config.UsageError`
    when the run folder's ``config.json`` is missing or unreadable, or the run has fewer training images
    than ``n_components``.
    """
    run = model_path.parent
    try:
        settings = runs.read_config(run)
        data, seed, split = settings["data"], settings["seed"], settings["validation_split"]
    except (OSError, runs.RunFolderError, KeyError, TypeError):
        raise UsageError(f"--sampler mixture needs the run folder the model was trained in, with its config.json; "
                         f"{run / 'config.json'} is missing or unreadable") from None
    mixture = saved_mixture(model_path, n_components, log=log)
    if mixture is not None:
        log(f"using the mixture of {n_components} Gaussians in {run / MIXTURE_FILE}")
        return mixture
    folder_path, group_of, _ = resolve_data(data, run, seed, settings.get("shapes") or config.SHAPES, log=log)
    folder = find_images(folder_path, image_size=model.image_size, progress=False)
    train_paths, _ = split_paths(folder.paths, split, seed, group_of)
    if len(train_paths) < n_components:
        raise UsageError(f"--components {n_components} is more than the {len(train_paths)} training images")
    return fit_run_mixture(model_path, model, train_paths, seed, n_components, log=log)
