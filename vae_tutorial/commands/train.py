"""``vae-tutorial train``: a run folder from its settings, trained, resumed or redrawn.

:func:`train_run` checks the folder (:func:`~vae_tutorial.training.runs.run_state`: a new run, one to resume,
or a finished one whose figures are drawn again), reads this worker's images, trains, fits the mixture of the
codes, and writes the figures and ``config.json``, marked finished last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path

import keras

from vae_tutorial import config
from vae_tutorial.config import UsageError
from vae_tutorial.data.pipeline import make_pipeline
from vae_tutorial.data.sources import resolve_data
from vae_tutorial.evaluation.codes import reconstruct
from vae_tutorial.generation.images import generate
from vae_tutorial.generation.run_mixture import fit_run_mixture, saved_mixture
from vae_tutorial.saving import load_vae
from vae_tutorial.plots.images import GENERATED_TITLE, MIXTURE_TITLE, plot_generated, plot_reconstructions
from vae_tutorial.training import runs
from vae_tutorial.training.callbacks import TrainingDiverged
from vae_tutorial.training.distribute import TrainingPhase, per_worker_pipeline
from vae_tutorial.training.shares import (WorkerImages, check_worker_images, figure_images, read_worker_images,
                                          report_worker_images)
from vae_tutorial.training.trainer import build_vae, train
from vae_tutorial.training.workers import lost_workers_told, start_strategy, this_worker

SAMPLES = 64  # images in samples.png and samples_prior.png


@dataclasses.dataclass
class TrainSettings:
    """The settings of ``vae-tutorial train``, with its defaults (see ``vae-tutorial train --help``)."""

    data: str = "emoji"  # "emoji", "shapes" or a folder of images
    epochs: int = config.EPOCHS
    out: Path | None = None  # the run folder; None: runs/<data's name>
    batch_size: int = config.BATCH_SIZE
    latent_dim: int = config.LATENT_DIM
    learning_rate: float = config.LEARNING_RATE
    validation_split: float = config.VALIDATION_SPLIT
    seed: int = config.SEED
    shapes: int = config.SHAPES
    decoder_variance: str = config.TRAIN_DECODER_VARIANCE
    beta: float = config.BETA
    overwrite: bool = False
    strategy: str = config.STRATEGIES[0]
    cache_dir: Path | None = None
    cache_memory: int | None = None
    rebuild_cache: bool = False


def train_run(settings: TrainSettings, log=print) -> None:
    """Train the run of ``settings`` into its folder, saying what happens with ``log``.

    Running it again resumes an interrupted run; of a finished run, it draws the figures again. Of several
    workers (``strategy="multiworker"``), only the chief (worker 0) writes the run folder; each other keeps
    its state in ``workers/worker_<i>`` below it. Raises :class:`~vae_tutorial.config.UsageError`,
    :class:`~vae_tutorial.training.runs.RunFolderError` or :class:`~vae_tutorial.data.images.DataError` with a
    one-line message for what the user can fix.
    """
    s = settings
    index, workers = this_worker(s.strategy)
    out = s.out or runs.default_out(s.data)
    if index > 0:  # only the chief writes the run folder; the other workers keep their state apart
        out = out / "workers" / f"worker_{index}"
    runs.check_writable(out)
    run = runs.run_config(s.data, s.latent_dim, s.batch_size, s.learning_rate, s.validation_split, s.seed,
                          config.IMAGE_SIZE, s.shapes, s.decoder_variance, s.beta)
    if s.overwrite:
        runs.clear(out)
    state = runs.run_state(out, run, s.epochs, keeps_model=index == 0)
    if state == "finished" and index > 0:  # told by this worker's own folder: it waits for no other worker
        log(f"worker {index}: {out} records that this run of {s.epochs} epochs has finished; nothing to do "
            "(pass --overwrite to train again)")
        return
    # A strategy must exist before TensorFlow runs any operation (multi-worker collectives); a finished run needs none.
    strategy = start_strategy(s.strategy) if state != "finished" else None

    folder_path, group_of, name = resolve_data(s.data, out, s.seed, s.shapes, log=log)
    log(f"reading images from {folder_path}")
    images = read_worker_images(folder_path, group_of, s.validation_split, s.seed, index, workers, log=log,
                                image_size=config.IMAGE_SIZE, cache_dir=s.cache_dir, memory_budget=s.cache_memory,
                                rebuild_cache=s.rebuild_cache)
    share = f" in worker {index}'s share" if workers > 1 else ""
    report_worker_images(images, out, share, log=log)
    together = strategy if workers > 1 and strategy is not None else None  # the workers that train together
    phase = TrainingPhase()
    with lost_workers_told(index, out, phase) if together is not None else contextlib.nullcontext():
        check_worker_images(images, folder_path, index, workers, together)
        log(f"{len(images.train)} training and {len(images.val)} validation images"
            + (" (skin-tone variants kept on one side)" if name == "emoji" else "") + share)
        if state == "finished":
            log(f"{out} already holds this finished run of {s.epochs} epochs; rewriting its figures only "
                "(pass --overwrite to train again)")
            model = load_vae(out / "model.keras")
            mixture = None
            if workers == 1:
                mixture = (saved_mixture(out / "model.keras", log=log)
                           or fit_run_mixture(out / "model.keras", model, images.train, s.seed, log=log))
            write_run_figures(model, figure_images(images, s.seed, workers, config.IMAGE_SIZE), out, s.seed, mixture)
            return
        history, elapsed = _train_and_draw(s, strategy, images, out, run, state, (index, workers), phase, log)
    if index > 0:
        # The worker's training state is of no more use; its config.json, marked finished, tells the same
        # command started again that the run is done, without waiting for any other worker.
        runs.clear(out)
        runs.write_config(out, {**run, "epochs": s.epochs, "finished": True})
        log(f"worker {index} done; the chief (worker 0) wrote the model, history and figures")
        return
    runs.write_config(out, {**run, "epochs": s.epochs, "finished": True})
    last = {k: v[-1] for k, v in history.history.items() if v}
    log(f"done in {elapsed / 60:.1f} min ({last.get('images_per_second', 0):.0f} training images/s)"
        + (f"; {validation_summary(last, s.decoder_variance)}" if "val_loss" in last else ""))
    log(f"wrote {out / 'model.keras'}, {out / 'history.csv'}, {out / 'samples.png'} (generated"
        + (" from the mixture of the codes" if workers == 1 else "") + f"), {out / 'samples_prior.png'} "
        f"(generated from the prior), {out / 'reconstructions.png'} and per-epoch grids in {out / 'epochs'}; "
        f"TensorBoard: tensorboard --logdir {out / 'logs'}")


def validation_summary(last: dict, decoder_variance: str) -> str:
    """The last epoch's validation terms, each named for what it is (Keras computes them from one sampled z)."""
    term = ("squared error summed per image" if decoder_variance == "fixed"
            else "the decoder's negative log-likelihood per image, less D/2·log π")
    return (f"validation, last epoch, one z ~ q(z|x) per image: reconstruction {last['val_reconstruction_loss']:.2f} "
            f"({term}), KL {last['val_kl_loss']:.2f} nats")


def write_run_figures(model, originals, out: Path, seed: int, mixture=None) -> None:
    """``samples.png`` (64 images generated with ``seed`` from ``mixture``, or from the prior without one),
    ``samples_prior.png`` (the same from the prior) and ``reconstructions.png`` of ``originals``."""
    prior = plot_generated(generate(model, SAMPLES, seed=seed), title=GENERATED_TITLE)
    runs.replace_atomically(lambda p: prior.savefig(p, format="png", dpi=100), out / "samples_prior.png")
    fig = prior if mixture is None else plot_generated(generate(model, SAMPLES, seed=seed, mixture=mixture),
                                                       title=MIXTURE_TITLE)
    runs.replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out / "samples.png")
    fig = plot_reconstructions(originals, reconstruct(model, originals),
                               title="Reconstructions of validation images: originals above, "
                               "decoded from their encodings below")
    runs.replace_atomically(lambda p: fig.savefig(p, format="png", dpi=100), out / "reconstructions.png")


def _train_and_draw(s: TrainSettings, strategy, images: WorkerImages, out: Path, run: dict, state: str,
                    worker: tuple, phase, log) -> tuple:
    """Train the run ``run`` (``state``: ``"new"`` or ``"resume"``) on this worker's ``images`` into ``out``,
    then write the figures; ``(Keras' History, seconds of training)``. ``worker``: ``(index, count)``."""
    index, workers = worker
    keras.utils.set_random_seed(s.seed)
    sizes = images.per_worker
    size = config.IMAGE_SIZE
    if workers > 1:
        log(f"worker {index} of {workers}: each worker trains on {sizes[0]} images of its share per epoch")
        train_ds = per_worker_pipeline(strategy, images.train, sizes[0], s.batch_size, make_pipeline,
                                       shuffle=True, seed=s.seed, image_size=size)
        val_ds = per_worker_pipeline(strategy, images.val, sizes[1], s.batch_size, make_pipeline,
                                     shuffle=False, image_size=size) if sizes[1] >= 1 else None
    else:
        train_ds = make_pipeline(images.train, s.batch_size, shuffle=True, seed=s.seed, image_size=size)
        val_ds = make_pipeline(images.val, s.batch_size, shuffle=False, image_size=size) if images.val else None
    model = build_vae(latent_dim=s.latent_dim, learning_rate=s.learning_rate, image_size=size,
                      seed=s.seed, decoder_variance=s.decoder_variance, beta=s.beta, strategy=strategy)
    runs.write_config(out, {**run, "epochs": s.epochs, "finished": False})
    if state == "resume":
        log(f"resuming the interrupted run in {out} after epoch {runs.resume_epoch(out)}")
    log(f"training for {s.epochs} epochs; outputs go to {out}")
    start = time.perf_counter()
    try:
        history = train(model, train_ds, val_ds, epochs=s.epochs, out_dir=out,
                        images_per_epoch=sizes[0] * workers, seed=s.seed, extra_callbacks=[phase])
    except TrainingDiverged as exc:
        kept = (f"the model after epoch {exc.epoch - 1} is kept in {out / 'model.keras'}" if exc.epoch > 1
                else "no epoch finished, so there is no model to keep")
        raise UsageError(f"training diverged: {exc}; {kept}; try a smaller --learning-rate "
                         "(with another --out or --overwrite)") from None
    elapsed = time.perf_counter() - start
    mixture = fit_run_mixture(out / "model.keras", model, images.train, s.seed, log=log) if workers == 1 else None
    # every worker: predict is collective
    write_run_figures(model, figure_images(images, s.seed, workers, size), out, s.seed, mixture)
    return history, elapsed
