"""``vae-tutorial generate`` and ``vae-tutorial reconstruct``: a PNG of new images, or of images and their
reconstructions, from a saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae_tutorial import config
from vae_tutorial.config import UsageError
from vae_tutorial.data.folders import find_images
from vae_tutorial.data.pipeline import read_images
from vae_tutorial.data.sources import SHAPES_DIR, resolve_data
from vae_tutorial.evaluation.codes import reconstruct
from vae_tutorial.generation.images import generate
from vae_tutorial.generation.run_mixture import run_mixture, saved_mixture
from vae_tutorial.saving import load_vae
from vae_tutorial.plots.images import GENERATED_TITLE, MIXTURE_TITLE, plot_generated, plot_reconstructions
from vae_tutorial.training import runs



def check_png_target(path: Path) -> None:
    """Refuse (:class:`~vae_tutorial.config.UsageError`) a PNG path that is a folder or in a folder not writable."""
    if path.is_dir():
        raise UsageError(f"--out {path} is a folder; give the name of the PNG file to write")
    runs.check_writable(path.parent if str(path.parent) else Path("."))


def generated_images(model_path: Path, out: Path, n: int = 64, seed: int = config.SEED, temperature: float = 1.0,
                     sampler: str | None = None, components: int = config.MIXTURE_COMPONENTS, log=print) -> None:
    """Write ``out``, a PNG of ``n`` images the model at ``model_path`` decodes from codes of ``sampler``:
    ``"mixture"`` (the run's mixture of the codes, fitted if need be), ``"prior"`` (N(0, temperature² I)), or
    None: the run's mixture when its folder holds one fitted to this model, else the prior."""
    model = load_vae(model_path)
    check_png_target(out)
    if sampler == "mixture":
        mixture = run_mixture(model_path, model, components, log=log)
    elif sampler is None:
        mixture = saved_mixture(model_path, components, if_damaged="sampling the prior", log=log)
        log(f"sampling the run's mixture of {components} Gaussians (--sampler prior for the prior)"
            if mixture is not None else
            f"sampling the prior N(0, I): {model_path.parent} holds no mixture fitted to this model")
    else:
        mixture = None
    images = generate(model, n, seed=seed, temperature=temperature, mixture=mixture)
    if mixture is not None:
        title = MIXTURE_TITLE + (f", temperature {temperature:g}" if temperature != 1.0 else "")
    else:
        title = GENERATED_TITLE if temperature == 1.0 else \
            f"Generated: decoded from random z ~ N(0, {temperature:g}² I)"
    fig = plot_generated(images, title=title)
    runs.replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out)


def reconstructed_images(model_path: Path, data: str, out: Path, n: int = 16, seed: int = config.SEED,
                         cache_dir: Path | None = None, rebuild_cache: bool = False, log=print) -> int:
    """Write ``out``, a PNG of ``n`` images of ``data`` chosen with ``seed`` above their reconstructions by the
    model at ``model_path``; returns how many images it shows (fewer than ``n`` when ``data`` has fewer)."""
    model = load_vae(model_path)
    check_png_target(out)
    folder_path, _, _ = resolve_data(data, SHAPES_DIR, seed, log=log)
    folder = find_images(folder_path, image_size=model.image_size, cache_dir=cache_dir,
                         rebuild_cache=rebuild_cache, log=log)
    chosen = sorted(np.random.default_rng(seed).permutation(len(folder.paths))[:n])
    originals = read_images([folder.paths[i] for i in chosen], model.image_size)
    fig = plot_reconstructions(originals, reconstruct(model, originals))
    runs.replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out)
    return len(originals)
