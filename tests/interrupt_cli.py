"""Run the command line, sending this process a signal at a named point: for the interruption tests.

    python tests/interrupt_cli.py POINT:N:SIGNAL ARGS...

runs ``vae-tutorial ARGS`` and sends SIGNAL (``INT`` or ``TERM``) to itself the N-th time the
code reaches POINT:

- ``image``: an image of the folder has been decoded (``folders._read_image``);
- ``epochE-batch``: a training batch of epoch E (1-based) has ended;
- ``checkpoint``: ``model.keras`` is written to its temporary file, not yet renamed;
- ``backup``: the backup's weights are written, its metadata not yet.
"""

import os
import signal
import sys
from pathlib import Path

import keras

from vae_tutorial import cli
from vae_tutorial.data import folders
from vae_tutorial.training import runs, trainer
from vae_tutorial.training import callbacks as callback_module
from vae_tutorial.model import VAE

point, count, signame = sys.argv[1].split(":")
seen = {}


def reached(name):
    seen[name] = seen.get(name, 0) + 1
    if name == point and seen[name] == int(count):
        os.kill(os.getpid(), getattr(signal, f"SIG{signame}"))


def after(function, name):
    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        reached(name)
        return result

    return wrapped


class BatchPoint(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        reached(f"epoch{self.epoch + 1}-batch")


def replace_atomically(write, path, original=runs.replace_atomically):
    if Path(path).name == "model.keras":
        return original(after(write, "checkpoint"), path)
    return original(write, path)


folders._read_image = after(folders._read_image, "image")
callbacks = trainer.training_callbacks  # what train calls
trainer.training_callbacks = lambda *args, **kwargs: [BatchPoint(), *callbacks(*args, **kwargs)]
runs.replace_atomically = replace_atomically
callback_module.replace_atomically = replace_atomically  # AtomicCheckpoint's
VAE.save_weights = after(VAE.save_weights, "backup")
sys.exit(cli.main(sys.argv[2:]))
