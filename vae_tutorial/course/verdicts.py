"""The checkers' verdicts, written down for ``vae-tutorial grade``.

A checker in :mod:`vae_tutorial.course.exercises` tells a student its verdict on the screen: it prints ``✓`` (right) or
``○`` (not attempted), or raises ``AssertionError`` (wrong). The grader needs the same verdict without reading the
screen, so every checker is wrapped in :func:`recorded`: when ``$VAE_TUTORIAL_VERDICTS`` names a file (the grader
sets it for the notebook's kernel), each call of a checker appends one line of JSON to it::

    {"check": "check_sampling", "function": "my_sample", "status": "wrong", "message": "z equals mu: ..."}

``status`` is ``"right"``, ``"wrong"`` or ``"not attempted"``; ``message`` is the checker's one-line hint when wrong,
what the function returned when not attempted, and null when right. A checker that another checker calls (the
find-the-bug checkers call the plain ones) writes nothing itself: one call from a notebook, one line.

Without the variable, nothing is written and the checkers behave as they always did. This module imports no
TensorFlow, so the grader can read the file without it.
"""

import functools
import json
import os
from pathlib import Path

VARIABLE = "VAE_TUTORIAL_VERDICTS"


RIGHT, WRONG, NOT_ATTEMPTED = "right", "wrong", "not attempted"


_depth = 0  # how many recorded checkers are running, one inside another


_noted = None  # (status, message) that the running checker noted, if it did


def note(status, message=None):
    """Called by a checker as it decides without raising: ``RIGHT``, or ``NOT_ATTEMPTED`` with why."""
    global _noted
    _noted = (status, message)


class Mistake(AssertionError):
    """A wrong answer: ``message`` names the mistake without giving the answer away; ``hint`` says more, and is
    shown only when the student asks for it (``check_...(fn, hint=True)``)."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


def one_line(error):
    """The first line of ``str(error)``, at most 300 characters."""
    return (str(error).strip().splitlines() or [""])[0][:300]


def recorded(check):
    """``check(fn, hint=False)``, which also appends its verdict to ``$VAE_TUTORIAL_VERDICTS`` when that is set.

    A :class:`Mistake` with a hint says how to ask for it; with ``hint=True`` it shows the hint instead.

    The verdict is WRONG with the message of the ``AssertionError`` it raises (raised on, unchanged), else what
    the checker :func:`note`-d; a checker that raises anything else records nothing.
    """

    @functools.wraps(check)
    def check_and_record(fn, hint=False):
        global _depth, _noted
        outermost = _depth == 0
        if outermost:
            _noted = None
        _depth += 1
        verdict = None
        try:
            result = check(fn)
            verdict = _noted
            return result
        except Mistake as error:
            verdict = (WRONG, one_line(error))
            if outermost and error.hint:
                more = (f"Hint: {error.hint}" if hint else
                        f"(For a hint: {check.__name__}({getattr(fn, '__name__', 'your_function')}, hint=True))")
                raise Mistake(f"{one_line(error)} {more}", error.hint).with_traceback(None) from error.__cause__
            raise
        except AssertionError as error:
            verdict = (WRONG, one_line(error))
            raise
        finally:
            _depth -= 1
            if outermost and verdict is not None:
                _write(check.__name__, getattr(fn, "__name__", None), *verdict)

    return check_and_record


def _write(check, function, status, message):
    path = os.environ.get(VARIABLE)
    if not path:
        return
    line = json.dumps({"check": check, "function": function, "status": status, "message": message},
                      ensure_ascii=False)
    with open(path, "a", encoding="utf-8") as file:
        file.write(line + "\n")


def read(path):
    """The verdicts written to ``path`` so far, oldest first ([] when there is no file yet); a line that is not a
    verdict (cut short, or written by something else) is skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    verdicts = []
    for line in lines:
        try:
            verdict = json.loads(line)
        except ValueError:
            continue
        if isinstance(verdict, dict) and verdict.get("status") in (RIGHT, WRONG, NOT_ATTEMPTED):
            verdicts.append(verdict)
    return verdicts
