"""The Keras callbacks ``train`` adds to ``fit`` (notebook 5 explains each).

- :class:`StopOnDivergence` stops a diverging run at the first NaN or infinite loss;
- :class:`SampleGrid` draws the images decoded from a fixed set of z after every epoch;
- :class:`Throughput` adds the epoch's training images per second to the logs;
- :class:`CollapseWatch` says in one line when the posterior collapses (KL near 0, no active dimension);
- :class:`AtomicCheckpoint` saves ``model.keras`` after every epoch, never half-written.

The run folder itself (atomic writes, the backup Keras' ``BackupAndRestore`` keeps, resuming) is
:mod:`vae_tutorial.training.runs`.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from vae_tutorial.training.runs import replace_atomically


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``epoch`` is 1-based, as Keras prints it."""

    def __init__(self, epoch, batch, loss):
        super().__init__(f"the loss became {loss} in epoch {epoch} (batch {batch + 1})")
        self.epoch, self.batch, self.loss = epoch, batch, loss


class StopOnDivergence(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN`` that raises :class:`TrainingDiverged` naming the epoch.

    Raising (rather than setting ``stop_training``) skips the end-of-epoch callbacks and
    ``on_train_end``: the NaN weights are never saved, and every file of the run stays as it
    was after the last good epoch.
    """

    def __init__(self):
        super().__init__(raise_error=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise TrainingDiverged(self.epoch + 1, batch, float(loss))


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, decode a fixed set of ``z`` and save the grid as ``epoch_NNN.png``.

    The same z every epoch, so the grids show how the decoder's images develop.
    """

    def __init__(self, directory, z, ncols=8):
        super().__init__()
        self.directory = Path(directory)
        self.z = z
        self.ncols = ncols

    def on_epoch_end(self, epoch, logs=None):
        from vae_tutorial.plots.images import visualize_batch

        images = np.asarray(self.model.decoder(self.z, training=False))
        fig = visualize_batch(images, ncols=self.ncols, cell_size=0.8,
                              title=f"Generated from fixed z ~ N(0, I), after epoch {epoch + 1}")
        self.directory.mkdir(parents=True, exist_ok=True)
        replace_atomically(lambda p: fig.savefig(p, format="png", dpi=80),
                           self.directory / f"epoch_{epoch + 1:03d}.png")


class Throughput(keras.callbacks.Callback):
    """Adds ``images_per_second`` (training images per second of the epoch, validation excluded) to the logs."""

    def __init__(self, images_per_epoch):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["images_per_second"] = self.images_per_epoch / max(self.end - self.start, 1e-9)


class CollapseWatch(keras.callbacks.Callback):
    """After each epoch, measure the KL and the active dimensions on ``images``; say when the posterior collapses
    and when it no longer is.

    Adds ``active_units`` to the logs (so ``history.csv`` records it every epoch). In an epoch where the KL per
    image is below :data:`~vae_tutorial.evaluation.loss_terms.COLLAPSED_KL` nats and no dimension is active, after one where
    it was not, one line says so, with ``hint``; in the first epoch after that where it no longer holds, one line
    says that it no longer is. Each line comes once Keras has finished printing the epoch.
    ``collapsed_epochs`` lists the (1-based) epochs in which the posterior was collapsed.
    """

    def __init__(self, images, hint: str = ""):
        super().__init__()
        self.images, self.hint = images, hint
        self.collapsed_epochs, self._pending = [], None

    def on_epoch_end(self, epoch, logs=None):
        from vae_tutorial.evaluation.loss_terms import loss_scale

        numbers = loss_scale(self.model, self.images)
        if logs is not None:
            logs["active_units"] = numbers["active_units"]
        was_collapsed = bool(self.collapsed_epochs) and self.collapsed_epochs[-1] == epoch
        state = (f"KL {numbers['kl']:.3g} nats per image, {numbers['active_units']} of {numbers['latent_dim']} "
                 f"dimensions active")
        if numbers["collapsed"]:
            self.collapsed_epochs.append(epoch + 1)
            if not was_collapsed:
                self._pending = (f"warning: the posterior collapsed in epoch {epoch + 1}: {state}, so the decoder "
                                 f"ignores z and every image decodes alike" + (f"; {self.hint}" if self.hint else ""))
        elif was_collapsed:
            self._pending = f"the posterior is no longer collapsed in epoch {epoch + 1}: {state}"

    def on_epoch_begin(self, epoch, logs=None):
        self._say()

    def on_train_end(self, logs=None):
        self._say()

    def _say(self):
        if self._pending:
            print(self._pending, flush=True)
            self._pending = None


class AtomicCheckpoint(keras.callbacks.Callback):
    """After each epoch, ``model.save(path)`` through a temporary file and a rename.

    Keras' ``ModelCheckpoint`` writes in place, so a kill during the write would leave a
    half-written ``model.keras``. An epoch whose loss is NaN or infinite is not saved.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        if np.isfinite((logs or {}).get("loss", 0.0)):
            replace_atomically(self.model.save, self.path)
