"""A test hook: send this process a signal at a named point, so tests interrupt at exact places.

Only the tests use it. ``VAE_TUTORIAL_TEST_INTERRUPT=POINT:N:SIGNAL`` (for example
``epoch2-batch:1:TERM``) sends SIGNAL (``INT`` or ``TERM``) to this process the N-th time
the code reaches POINT. The points are:

- ``image``: one image of the folder has been read (``data.find_images``);
- ``epochE-batch``: a training batch (or a group of ``steps_per_execution`` batches) of
  epoch E (1-based) has ended;
- ``checkpoint``: ``model.keras`` is written to its temporary file, not yet renamed;
- ``backup``: the backup's weights (a link to ``model.keras``) are made under their temporary name, not yet renamed.

Unset (always, outside the tests), :func:`reached` returns at once.
"""

import os
import signal

_SPEC = os.environ.get("VAE_TUTORIAL_TEST_INTERRUPT", "")
_counts: dict[str, int] = {}


def reached(point: str) -> None:
    """Count one arrival at ``point``; signal this process if it is the requested one."""
    if not _SPEC:
        return
    name, count, signame = _SPEC.split(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(count):
        os.kill(os.getpid(), getattr(signal, f"SIG{signame}"))
