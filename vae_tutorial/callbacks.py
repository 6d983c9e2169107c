"""The Keras callbacks ``train`` adds to ``fit`` (notebook 5 explains each).

- :class:`StopOnDivergence` stops a diverging run at the first NaN or infinite loss;
- :class:`SampleGrid` draws the images decoded from a fixed set of z after every epoch;
- :class:`Throughput` adds the epoch's training images per second to the logs.

The run folder's own callbacks (the atomic checkpoint, the backup) are in :mod:`vae_tutorial.runs`.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from vae_tutorial.runs import replace_atomically


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
        from vae_tutorial.data import visualize_batch

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
