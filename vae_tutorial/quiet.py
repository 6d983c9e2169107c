"""TensorFlow's start-up log lines, filtered from stderr.

TensorFlow prints C++ log lines (the oneDNN notice, CPU-feature hints, absl warnings) to file
descriptor 2 while it is imported. ``TF_CPP_MIN_LOG_LEVEL`` does not hide all of them, and
``TF_ENABLE_ONEDNN_OPTS=0`` would switch off the fast CPU kernels. So while TensorFlow is
imported, descriptor 2 points at a temporary file, and afterwards only the lines that are not
known start-up noise are passed on.
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


@contextlib.contextmanager
def quiet_stderr():
    """Within the block, stderr's start-up noise (:data:`NOISE`) is dropped; other lines pass after it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
        kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                if line.strip() and not NOISE.match(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr)
