"""Import TensorFlow without its start-up log noise.

TensorFlow prints C++ log lines (the oneDNN notice, CPU-feature hints, absl
warnings) to file descriptor 2 while it is imported. ``TF_CPP_MIN_LOG_LEVEL``
does not hide all of them, and ``TF_ENABLE_ONEDNN_OPTS=0`` would switch off the
fast CPU kernels. So we point descriptor 2 at a temporary file during the
import and pass on only the lines that are not known start-up noise.
"""

import os
import re
import sys
import tempfile

_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|[IW]\d{4} |"
    r"To enable the following instructions|E0000 .*(cuda|cuFFT|cuDNN|cuBLAS))"
)


def import_tensorflow_quietly():
    """Import TensorFlow and Keras once, filtering start-up noise from stderr."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        saved = os.dup(2)
    except OSError:  # no usable descriptor 2 (rare embedded interpreters)
        import tensorflow  # noqa: F401

        return
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow

            # Finding devices prints "failed call to cuInit" on machines without a GPU
            # driver; do it here, inside the redirect. Logical devices can still be set later.
            tensorflow.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        kept = [
            line
            for line in captured.read().decode("utf-8", "replace").splitlines()
            if line.strip() and not _NOISE.match(line)
        ]
    if kept:
        print("\n".join(kept), file=sys.stderr)
