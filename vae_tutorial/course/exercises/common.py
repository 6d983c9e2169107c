"""What every checker shares: calling the student's function, telling an unfilled scaffold from
an attempt, comparing arrays, and recording the verdict for ``vae-tutorial grade``.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from vae_tutorial.course.verdicts import NOT_ATTEMPTED, RIGHT, Mistake, note  # noqa: F401  (Mistake: for the checkers)

SEED = 0


IMAGE_SHAPE = (64, 64, 3)


def _name(fn):
    return getattr(fn, "__name__", "your function")


def _call(fn, *args):
    """``fn(*args)``; an exception raised inside becomes a one-line AssertionError that names it."""
    if not callable(fn):
        raise AssertionError(f"Expected a function. Received: {type(fn).__name__}")
    try:
        return fn(*args)
    except Exception as error:
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise AssertionError(f"{_name(fn)} raised {type(error).__name__}: {first_line}") from error


def _not_attempted(fn, result):
    """True (after saying so) when ``fn`` returned None or ``...``: the scaffold, still unfilled."""
    if result is None or result is Ellipsis:
        print(f"○ {_name(fn)}: not attempted yet (it returns {result!r}). Write its body, then run this cell again.")
        note(NOT_ATTEMPTED, f"it returns {result!r}")
        return True
    return False


def _passed(fn, what):
    print(f"✓ {_name(fn)} is right: {what}")
    note(RIGHT)


def _numpy(value):
    return np.asarray(ops.convert_to_numpy(value))


def _same(got, expected, rtol=1e-3, atol=1e-5):
    expected = np.asarray(expected)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def _which(got, candidates):
    """The hint of the first ``(hint, value)`` pair whose value ``got`` equals, or None."""
    return next((hint for hint, value in candidates if _same(got, value)), None)


def _fmt(values):
    return np.array2string(np.asarray(values), precision=3, separator=", ", max_line_width=10_000)


def _has_gradient(tape, target, sources):
    """For each source, whether a non-zero gradient of ``target`` reaches it."""
    if not tf.is_tensor(target):  # a NumPy array: computed outside TensorFlow, so outside the tape
        return [False] * len(sources)
    gradients = tape.gradient(target, sources)
    return [g is not None and bool(np.any(_numpy(g) != 0)) for g in gradients]


def _model(fn, built):
    """``built`` must be a Keras model."""
    if not isinstance(built, keras.Model):
        raise AssertionError(f"{_name(fn)} must return a keras.Model. It returned a {type(built).__name__}")
    return built


def _output_layer(model, output):
    """The layer of a functional model that produces ``output``, or None (e.g. a subclassed model)."""
    for layer in model.layers:
        try:
            if layer.output is output:
                return layer
        except (AttributeError, ValueError):  # a layer with no output or several
            continue
    return None


def _which_mistake(got, candidates):
    """The first :class:`Mistake` of the ``(mistake, value)`` pairs whose value ``got`` equals, or None."""
    return next((mistake for mistake, value in candidates if _same(got, value)), None)
