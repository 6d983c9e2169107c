"""Speed-ups: each computes the same function as the plain Keras it replaces.

``vae_tutorial.training.build_vae()`` uses them by default where they help, and
``build_vae(fast=False)`` gives the plain model of the notebooks. A model built either way has
the same layers, layer names and weights, so a model saved either way loads either way, as the plain
float32 model (see :func:`vae_tutorial.saving.load_vae`).

- :mod:`~vae_tutorial.fast.precision`: mixed bfloat16 on CPUs with bfloat16 units;
- :mod:`~vae_tutorial.fast.subpixel`: transposed convolutions computed as convolutions (in bfloat16);
- :mod:`~vae_tutorial.fast.adam`: Adam's update in one fused kernel.

``docs/speed-ups.md`` explains each; ``benchmarks/run.py`` measures them.
"""

import keras

from vae_tutorial.config import PRECISIONS
from vae_tutorial.fast.adam import FusedAdam
from vae_tutorial.fast.precision import default_precision, has_bfloat16_units
from vae_tutorial.fast.subpixel import SubPixelConv2DTranspose

__all__ = ["FusedAdam", "SubPixelConv2DTranspose", "default_precision", "has_bfloat16_units",
           "fast_parts"]

FLOAT32_OUTPUTS = ("mu", "log_var", "sigmoid")  # layers whose outputs stay float32 under mixed precision

# The Keras versions that the private hooks (fast/adam.py, fast/subpixel.py, keras_hook.py) were checked
# against, each with TensorFlow 2.21.0: their comments and docs/speed-ups.md name these, and
# tests/test_private_hooks.py checks each hook against the installed Keras. Informative only: nothing refuses
# another version.
CHECKED_KERAS = ("3.13.0", "3.15.1")


def fast_parts(model, precision="auto"):
    """``(encoder, decoder)``: copies of ``model``'s, with its weights and layer names, computing in
    ``precision`` (``"auto"``: :func:`default_precision`) with :class:`SubPixelConv2DTranspose` for
    every ``Conv2DTranspose``. The ``mu``, ``log_var`` and ``sigmoid`` layers stay float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"Argument `precision` must be one of {PRECISIONS}. Received: precision={precision!r}")
    if precision == "auto":
        precision = default_precision()

    def clone(layer):
        config = layer.get_config()
        if layer.name not in FLOAT32_OUTPUTS:
            config["dtype"] = precision
        if type(layer) is keras.layers.Conv2DTranspose:
            return SubPixelConv2DTranspose.from_config(config)
        return type(layer).from_config(config)

    parts = []
    for part in (model.encoder, model.decoder):
        copy = keras.models.clone_model(part, clone_function=clone)
        copy.set_weights(part.get_weights())
        parts.append(copy)
    return tuple(parts)
