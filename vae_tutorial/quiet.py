"""TensorFlow's log lines, filtered from stderr.

TensorFlow prints C++ log lines (the oneDNN notice, CPU-feature hints, absl warnings) to file
descriptor 2 while it is imported. ``TF_CPP_MIN_LOG_LEVEL`` does not hide all of them, and
``TF_ENABLE_ONEDNN_OPTS=0`` would switch off the fast CPU kernels. So while TensorFlow is
imported, descriptor 2 points at a temporary file, and afterwards only the lines that are not
known start-up noise are passed on (:func:`quiet_stderr`).

When a worker of a multi-worker run is lost, TensorFlow's runtime logs its account of the
failure on every other worker, dozens of error lines, which the command line replaces with one
line of its own (:func:`runtime_log_held`).
"""

import contextlib
import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|[IW]\d{4} |"
    r"To enable the following instructions|E0000 .*(cuda|cuFFT|cuDNN|cuBLAS))"
)
ERROR_RECORD = re.compile(r"^[EF]\d{4} ")  # absl's prefix of an error (or fatal) log record: severity, MMDD


@contextlib.contextmanager
def quiet_stderr():
    """Within the block, stderr's start-up noise (:data:`NOISE`) is dropped; other lines pass after it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    lines = []
    try:
        with _descriptor_2_into(lines):
            yield
    finally:
        _pass_on(lines)


class HeldLog:
    """What :func:`runtime_log_held` yields: call :meth:`drop_failure` when the failure is told otherwise."""

    def __init__(self):
        self.failure_dropped = False

    def drop_failure(self):
        """Drop the held lines from TensorFlow's first error record on (and every line after it)."""
        self.failure_dropped = True


@contextlib.contextmanager
def runtime_log_held():
    """Within the block, what is written to descriptor 2 is held, and passed on after it as by
    :func:`quiet_stderr`; after :meth:`HeldLog.drop_failure`, only the lines before TensorFlow's
    first error record (:data:`ERROR_RECORD`) are. Yields the :class:`HeldLog`.

    Python's own writes to ``sys.stderr`` within the block (warnings, say) are held too: they
    appear when the block ends.
    """
    held, lines = HeldLog(), []
    try:
        with _descriptor_2_into(lines):
            yield held
    finally:
        if held.failure_dropped:
            lines = lines[:next((i for i, line in enumerate(lines) if ERROR_RECORD.match(line)), len(lines))]
        _pass_on(lines)


@contextlib.contextmanager
def _descriptor_2_into(lines: list):
    """Within the block, descriptor 2 writes to a temporary file; its lines are appended to ``lines`` at the end."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (rare embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines.extend(captured.read().decode("utf-8", "replace").splitlines())


def _pass_on(lines):
    kept = [line for line in lines if line.strip() and not NOISE.match(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
