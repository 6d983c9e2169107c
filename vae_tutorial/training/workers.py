"""Starting a run's ``tf.distribute`` strategy, and what a worker says when another is lost: one line each
(:class:`~vae_tutorial.config.UsageError`), in place of TensorFlow's errors."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import tensorflow as tf

from vae_tutorial.config import UsageError
from vae_tutorial.quiet import runtime_log_held
from vae_tutorial.training import runs
from vae_tutorial.training.distribute import configured_worker, lost_worker, make_strategy


def this_worker(strategy_name: str) -> tuple:
    """``(index, count)`` of this process among the workers: from ``$TF_CONFIG`` for ``"multiworker"``
    (read before any strategy exists), else ``(0, 1)``."""
    if strategy_name != "multiworker":
        return 0, 1
    try:
        return configured_worker()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # e.g. a malformed $TF_CONFIG
        raise _strategy_error(strategy_name, exc) from None


def start_strategy(name: str):
    """The ``tf.distribute`` strategy ``name``; of several workers, once all of them have started."""
    try:
        strategy = make_strategy(name)
    except (ValueError, KeyError, RuntimeError) as exc:  # e.g. a malformed $TF_CONFIG
        raise _strategy_error(name, exc) from None
    # MultiWorkerMirroredStrategy's runtime takes over SIGTERM (for its preemption notices), after which a
    # worker would not stop when told to: give it back to the handler installed before.
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is not None:
        signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGTERM))
    return strategy


def _strategy_error(name, exc) -> UsageError:
    return UsageError(f"cannot start --strategy {name}: {' '.join(str(exc).split())[:200]}")


@contextlib.contextmanager
def lost_workers_told(index: int, out: Path, phase):
    """Within the block, a lost worker (killed, crashed, unreachable) stops this one with one line that
    names it and says how to resume (:class:`~vae_tutorial.config.UsageError`), in place of TensorFlow's
    error, its traceback and its runtime's dozens of log lines on stderr, which are dropped. ``phase``: where
    training is (:class:`~vae_tutorial.training.distribute.TrainingPhase`)."""
    with runtime_log_held() as log:
        try:
            yield
        except tf.errors.OpError as exc:
            lost, which = lost_worker(exc, index)
            if not lost:
                raise
            log.drop_failure()
            raise UsageError(lost_worker_message(which, phase, out)) from None


def lost_worker_message(which, phase, out: Path) -> str:
    """What a worker says when worker ``which`` (``None``: not known which) was lost while training was at ``phase``."""
    who = f"worker {which}" if which is not None else "another worker"
    again = "start every worker's command again"
    if phase.ended:
        return f"lost contact with {who} after the last epoch; the trained run is kept in {out}: {again} to finish it"
    when = f"during epoch {phase.epoch}" if phase.epoch else "before training"
    done = runs.resume_epoch(out)
    if done:
        return f"lost contact with {who} {when}; the run is kept in {out} (resumes after epoch {done}): {again}"
    return f"lost contact with {who} {when}, before any epoch had finished: {again}"
