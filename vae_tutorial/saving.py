"""Loading a saved VAE back: :func:`load_vae` checks the file and refuses, in one line, what it cannot load.

Saving is Keras' own ``model.save("model.keras")``; :class:`~vae_tutorial.model.VAE` has the ``get_config``
that makes it possible.
"""

import zipfile
from pathlib import Path

import keras

from vae_tutorial.model import VAE


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message is one line for the user."""


def load_vae(path):
    """Load a VAE saved with ``model.save(...)``, in Keras safe mode (no arbitrary code).

    A ``.keras`` file holds the model's settings, weights and optimizer state, not how it computed:
    this, like ``keras.saving.load_model``, returns the plain float32 :class:`VAE` with exactly the
    saved weights. A model that computed in float32 (every model on a CPU without bfloat16 units
    or on a GPU, and ``build_vae(fast=False)`` everywhere) loads with identical outputs; one that
    computed in mixed bfloat16 (``build_vae()`` on a CPU with bfloat16 units) loads as its float32
    counterpart, whose outputs differ from the saved model's by that model's bfloat16 rounding.

    Raises :class:`ModelFileError` with a one-line reason for a missing, corrupt, unsafe or
    foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    if path.suffix != ".keras":
        raise ModelFileError(f"not a .keras model file: {path}")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a valid .keras file (corrupt or truncated)")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # Keras raises many types here; all mean "this file cannot be used"
        message = " ".join(str(exc).split())
        if "lambda" in message.lower() or "safe_mode" in message:
            raise ModelFileError(f"refused {path}: it contains code (a Lambda layer), which safe mode does not load") from None
        raise ModelFileError(f"could not load {path}: {message[:200]}") from None
    if not isinstance(model, VAE):
        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a vae_tutorial VAE")
    return model
