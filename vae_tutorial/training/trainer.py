"""Training: build the compiled VAE exactly as the command line trains it, and run ``fit``.

``train`` is Keras' ``fit`` with these callbacks, in this order at the end of an epoch:

- :class:`~vae_tutorial.training.callbacks.StopOnDivergence`: stop at the first NaN or infinite loss;
- :class:`~vae_tutorial.training.callbacks.Throughput`: training images per second, into the logs;
- :class:`~vae_tutorial.training.callbacks.SampleGrid`: ``epochs/epoch_NNN.png`` from a fixed set of z;
- :class:`~vae_tutorial.training.callbacks.CollapseWatch`: the active dimensions of the validation images into
  the logs, and one line when the posterior collapses (and one when it no longer is);
- ``keras.callbacks.CSVLogger``: each epoch's losses appended to ``history.csv``;
- ``keras.callbacks.TensorBoard``: the same losses under ``logs/`` for ``tensorboard --logdir runs``;
- :class:`~vae_tutorial.training.callbacks.AtomicCheckpoint`: ``model.keras``, written atomically;
- ``keras.callbacks.BackupAndRestore``: the training state in ``backup/``, so that running the
  same command again resumes an interrupted run. It runs last: once it has saved, every other
  output of that epoch is complete.

After the last epoch, ``train`` compares the two terms of the loss on the validation images
(:mod:`vae_tutorial.evaluation.loss_terms`): one printed line, and ``metrics.json`` (with the epochs at whose
end the posterior was collapsed).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vae_tutorial import config
from vae_tutorial.prior import fixed_latents
from vae_tutorial.training.distribute import make_strategy, vae_class
from vae_tutorial.training.callbacks import AtomicCheckpoint, CollapseWatch, SampleGrid, StopOnDivergence, Throughput
from vae_tutorial.training.runs import (
    remove_temporary_files,
    repair_backup,
    replace_atomically,
    trim_history,
)

# From config; this name stays because notebook 5 shows train's source with it.
DEFAULTS = {"latent_dim": config.LATENT_DIM, "batch_size": config.BATCH_SIZE, "epochs": config.EPOCHS,
            "learning_rate": config.LEARNING_RATE, "image_size": config.IMAGE_SIZE, "seed": config.SEED}


def epochs_from_env(default: int = DEFAULTS["epochs"]) -> int:
    """The epoch count from ``$VAE_TUTORIAL_EPOCHS`` (used to shorten notebook runs), else ``default``."""
    value = os.environ.get("VAE_TUTORIAL_EPOCHS", "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"VAE_TUTORIAL_EPOCHS must be a positive integer, got {value!r}")
    return int(value)


def build_vae(
    latent_dim: int = DEFAULTS["latent_dim"],
    learning_rate: float = DEFAULTS["learning_rate"],
    image_size: int = DEFAULTS["image_size"],
    seed: int | None = DEFAULTS["seed"],
    reconstruction_reduction: str = config.REDUCTION,
    decoder_variance: str = config.DECODER_VARIANCE,
    beta: float = config.BETA,
    fast: bool = True,
    precision: str = config.PRECISION,
    steps_per_execution: int = 1,
    jit_compile: bool | str = False,
    strategy=None,
):
    """A built VAE compiled with Adam, as ``vae-tutorial train`` uses it.

    ``fast=True`` (the default) uses the speed-ups of :mod:`vae_tutorial.fast` where they help:
    ``precision="auto"`` computes in mixed bfloat16 on CPUs with bfloat16 units (else float32,
    or as ``precision`` says), the transposed convolutions run as convolutions in bfloat16, and
    Adam's update is one fused kernel. ``fast=False`` is the plain Keras model of the notebooks.
    Both have the same layers, layer names and initial weights, and compute the same function.

    ``decoder_variance`` (``"fixed"``, ``"learned"`` or ``"optimal"``) and ``beta`` (the KL's weight)
    are the model's: see :class:`~vae_tutorial.model.VAE`.

    ``strategy``: a ``tf.distribute`` strategy or its name (``"mirrored"``, ``"multiworker"``);
    the model and optimizer are made in its scope.
    """
    if not learning_rate > 0:
        raise ValueError(f"Argument `learning_rate` must be positive. Received: learning_rate={learning_rate!r}")
    if not fast and precision not in ("auto", "float32"):
        raise ValueError(f"Argument `precision` needs fast=True. Received: precision={precision!r}, fast=False")
    with make_strategy(strategy).scope():
        vae = vae_class()
        settings = dict(latent_dim=latent_dim, image_size=image_size, seed=seed,
                        reconstruction_reduction=reconstruction_reduction, decoder_variance=decoder_variance,
                        beta=beta)
        model = vae(**settings)
        optimizer = keras.optimizers.Adam(learning_rate)
        if fast:  # imported here: the plain model of the notebooks touches nothing in vae_tutorial.fast
            from vae_tutorial.fast import FusedAdam, fast_parts
            encoder, decoder = fast_parts(model, precision)
            model = vae(**settings, encoder=encoder, decoder=decoder)
            optimizer = FusedAdam(learning_rate)
        model.compile(optimizer=optimizer, steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        model(np.zeros((1, image_size, image_size, 3), "float32"))  # build every layer before saving
    return model


def training_callbacks(out_dir, latent_dim, images_per_epoch, seed=0, n_samples=32, watched=None, hint=""):
    """The callbacks ``train`` uses, writing into ``out_dir``; ``watched``: images for :class:`CollapseWatch`."""
    out_dir = Path(out_dir)
    return [
        StopOnDivergence(),
        Throughput(images_per_epoch),
        SampleGrid(out_dir / "epochs", fixed_latents(n_samples, latent_dim, seed)),
        *([CollapseWatch(watched, hint)] if watched is not None else []),
        keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
        keras.callbacks.TensorBoard(log_dir=str(out_dir / "logs"), write_graph=False),
        AtomicCheckpoint(out_dir / "model.keras"),
        keras.callbacks.BackupAndRestore(str(out_dir / "backup"), double_checkpoint=True),  # last: commits the epoch
    ]


def train(model, train_data, validation_data=None, epochs=DEFAULTS["epochs"], out_dir="runs/vae",
          images_per_epoch=None, seed=0, verbose="auto", extra_callbacks=()):
    """``model.fit`` with the callbacks above; returns the Keras ``History``.

    Resumes from ``out_dir/backup`` when a previous run there was interrupted; otherwise starts a
    fresh ``history.csv``. Raises :class:`~vae_tutorial.training.callbacks.TrainingDiverged` when the loss
    becomes NaN or infinite.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Argument `epochs` must be a positive int. Received: epochs={epochs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if images_per_epoch is None:
        images_per_epoch = sum(int(batch.shape[0]) for batch in train_data)
    remove_temporary_files(out_dir)
    trim_history(out_dir / "history.csv", repair_backup(out_dir))
    scored = validation_data if validation_data is not None else train_data
    watched = None
    if not isinstance(scored, tf.distribute.DistributedDataset):  # a worker's pipeline holds only its share
        from vae_tutorial.data.pipeline import take_images

        watched = take_images(scored, 256)
    callbacks = training_callbacks(out_dir, model.latent_dim, images_per_epoch, seed, watched=watched,
                                   hint=_collapse_hint(model)) + list(extra_callbacks)
    history = model.fit(train_data, validation_data=validation_data, epochs=epochs, shuffle=False,
                        callbacks=callbacks, verbose=verbose)
    if watched is not None:
        watch = next(c for c in callbacks if isinstance(c, CollapseWatch))
        report_loss_scale(model, scored, out_dir, verbose=verbose != 0, collapsed_epochs=watch.collapsed_epochs)
    return history


def _collapse_hint(model) -> str:
    """What to try when ``model``'s posterior collapses."""
    if model.reconstruction_reduction == "mean":
        return "try reconstruction_reduction='sum': a per-pixel mean cannot hold its own against the KL"
    tries = []
    if model.decoder_variance != "optimal":
        tries.append("a calibrated decoder, decoder_variance='optimal' (vae-tutorial train --decoder-variance "
                     "optimal), which weighs each squared error by 1/(2σ²) with σ² the current mean squared error")
    if model.beta > 1:
        tries.append("a smaller beta (--beta)")
    if tries:
        return "try " + ", or ".join(tries)
    return "a calibrated decoder can come out of it in later epochs (a line says so when it does)"


def report_loss_scale(model, data, out_dir, n=512, verbose=True, collapsed_epochs=()) -> dict:
    """:func:`~vae_tutorial.evaluation.loss_terms.loss_scale` on up to ``n`` images of ``data``, with ``collapsed_epochs``
    (the epochs at whose end the posterior was collapsed), written to ``out_dir/metrics.json`` and, with
    ``verbose``, printed as one line."""
    import json

    from vae_tutorial.data.pipeline import take_images
    from vae_tutorial.evaluation.loss_terms import describe, loss_scale

    numbers = {**loss_scale(model, take_images(data, n)), "collapsed_epochs": list(collapsed_epochs)}
    replace_atomically(lambda p: p.write_text(json.dumps(numbers, indent=2)), Path(out_dir) / "metrics.json")
    if verbose:
        print(f"Loss terms {describe(numbers)}")
    return numbers

