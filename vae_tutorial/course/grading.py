"""Grading: run a student's notebook and report each exercise as right, wrong or not attempted.

``vae-tutorial grade`` uses this module. :func:`grade_notebook` executes a notebook from top to bottom, as "Run All"
does, in a fresh Python kernel of this interpreter (where ``vae_tutorial`` is installed), with the notebook's folder
as working directory. The notebook file is only read: its outputs are not written back.

An exercise is one call of a ``check_*`` function in a code cell (a *check cell*). Its verdict is the one its checker
writes down (:mod:`vae_tutorial.course.verdicts`), so an unfilled scaffold, which the checker calls "not attempted", scores
nothing, and a wrong answer, whose ``AssertionError`` the checker raises, is recorded and the notebook goes on. Any
other error in any cell stops the notebook, as it would stop "Run All": the notebook's report then carries a one-line
``error``, and the check cells after it are "not attempted", with that reason. So does running out of time.

This runs the students' code with the grader's rights: grade in a sandbox, a container or a throwaway account.
The notebooks read ``$VAE_TUTORIAL_EPOCHS`` (the kernel inherits the environment): set it to 1 to grade quickly.
"""

from __future__ import annotations

import ast
import math
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from vae_tutorial.course import verdicts
from vae_tutorial.course.verdicts import NOT_ATTEMPTED, RIGHT, WRONG, one_line

DEFAULT_TIMEOUT = 1800  # seconds per notebook: notebooks 4 and 5 train for up to half an hour at the course settings


MARKS = {RIGHT: "✓", WRONG: "✗", NOT_ATTEMPTED: "○"}


@dataclass
class Exercise:
    """One check call: ``name`` is the student's function it checks (else the checker's name)."""

    name: str
    status: str = NOT_ATTEMPTED
    message: str | None = None

    def as_json(self) -> dict:
        return {"name": self.name, "status": self.status, "message": self.message}


@dataclass
class Report:
    """The grade of one notebook. ``error`` is one line when the notebook could not be run to its end."""

    notebook: str
    exercises: list[Exercise] = field(default_factory=list)
    error: str | None = None

    @property
    def score(self) -> int:
        return sum(exercise.status == RIGHT for exercise in self.exercises)

    @property
    def out_of(self) -> int:
        return len(self.exercises)

    def as_json(self) -> dict:
        """``{"notebook", "exercises", "score", "out_of"}``, and ``"error"`` only when the notebook failed."""
        result = {"notebook": self.notebook, "exercises": [e.as_json() for e in self.exercises],
                  "score": self.score, "out_of": self.out_of}
        if self.error is not None:
            result["error"] = self.error
        return result

    def as_text(self) -> str:
        """A short table: the notebook, its error if it failed, one row per exercise (✓ right, ✗ wrong with the
        checker's message, ○ not attempted with why), then ``score K/N``."""
        lines = [self.notebook]
        if self.error is not None:
            lines.append(f"  error: {self.error}")
        width = max((len(exercise.name) for exercise in self.exercises), default=0)
        for exercise in self.exercises:
            row = f"  {MARKS[exercise.status]} {exercise.name:<{width}}  {exercise.status}"
            lines.append(row + (f": {exercise.message}" if exercise.message else ""))
        lines.append(f"  score {self.score}/{self.out_of}")
        return "\n".join(lines)


def check_calls(source: str) -> list[str]:
    """The exercises that the code cell ``source`` checks, in order: one name per call of a ``check_*`` function.

    The name is the call's first argument when that is a plain name (``check_sampling(my_sample)`` → ``my_sample``),
    else the checker's name. IPython syntax (``%magic``, ``!shell``) is allowed; in a cell that is not valid Python
    even so, the calls are found by their text.
    """
    try:
        tree = ast.parse(_python(source))
    except SyntaxError:
        return re.findall(r"\b(check_\w+)\s*\(", _without_comments(source))
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        checker = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if checker and checker.startswith("check_"):
            argument = node.args[0] if node.args else None
            names.append((node.lineno, node.col_offset,
                          argument.id if isinstance(argument, ast.Name) else checker))
    return [name for *_, name in sorted(names)]


def _python(source: str) -> str:
    """``source`` with IPython's own syntax turned into Python (what the kernel runs)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _without_comments(source: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in source.splitlines())


def _describe(notebook, index: int) -> str:
    """``cell N (`its first line`)``: N counts every cell from 1, as an instructor counts them in JupyterLab."""
    first = next((line.strip() for line in notebook.cells[index].source.splitlines() if line.strip()), "")
    if len(first) > 50:
        first = first[:47] + "..."
    return f"cell {index + 1} (`{first}`)"


class _Stopped(Exception):
    """The notebook cannot go on; the message is one line."""


def grade_notebook(path, timeout: float = DEFAULT_TIMEOUT) -> Report:
    """Run the notebook at ``path`` and grade its exercises; never raises for a notebook that fails.

    ``timeout`` is the time its cells may take together, in seconds (starting the kernel is not counted). A notebook
    that cannot be read, that raises outside a check cell, whose kernel dies, or that runs out of time gets a
    report with ``error`` set; its exercises still count in ``out_of``.
    """
    import nbformat

    try:
        notebook = nbformat.read(str(path), as_version=4)
    except Exception as error:  # noqa: BLE001  (not JSON, not a notebook, unreadable: all reported alike)
        return Report(str(path), error=f"cannot read the notebook: {type(error).__name__}: {one_line(error)}")
    checks = {index: [Exercise(name) for name in check_calls(cell.source)]
              for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    exercises = [exercise for cell_exercises in checks.values() for exercise in cell_exercises]
    error = _run(notebook, Path(path).resolve().parent, timeout, checks)
    return Report(str(path), exercises, error)


def _run(notebook, folder: Path, timeout: float, checks: dict[int, list[Exercise]]) -> str | None:
    """Execute ``notebook``'s code cells in order in ``folder``, giving the exercises of ``checks`` (by cell index)
    their verdicts. Returns None when every cell ran, else why the notebook stopped (one line), after marking the
    exercises left unchecked "not attempted" with that reason."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="vae-tutorial-grade-") as scratch:
        verdict_file = Path(scratch) / "verdicts.jsonl"
        client = NotebookClient(notebook, km=_kernel_manager(), resources={"metadata": {"path": str(folder)}},
                                shutdown_kernel="immediate", allow_errors=False)
        index = None
        try:
            with client.setup_kernel(cleanup_kc=True, env={**os.environ, verdicts.VARIABLE: str(verdict_file)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
                deadline = time.monotonic() + timeout
                for index, cell in enumerate(notebook.cells):
                    if cell.cell_type == "code":
                        _run_cell(client, notebook, index, deadline, timeout, checks[index], verdict_file)
            return None
        except _Stopped as stop:
            reason = str(stop)
        except Exception as error:  # noqa: BLE001  (the kernel died or did not start: reported, never a traceback)
            where = f" in {_describe(notebook, index)}" if index is not None else ""
            reason = f"the kernel failed{where}: {type(error).__name__}: {one_line(error)}"
    for exercise in (exercise for cell_exercises in checks.values() for exercise in cell_exercises):
        if exercise.status == NOT_ATTEMPTED and exercise.message is None:  # its check cell never ran
            exercise.message = f"not reached: {reason}"
    return reason


def _run_cell(client, notebook, index: int, deadline: float, timeout: float, exercises: list[Exercise],
              verdict_file: Path) -> None:
    """Execute code cell ``index`` and give its exercises their verdicts; raise :class:`_Stopped` when the notebook
    cannot go on (an error outside the checks, or the time limit)."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    seen = len(verdicts.read(verdict_file))
    client.timeout = math.ceil(deadline - time.monotonic())
    error = None
    try:
        if client.timeout <= 0:
            raise CellTimeoutError("no time left")
        client.execute_cell(notebook.cells[index], index)
    except CellExecutionError as failure:
        error = f"{failure.ename}: {one_line(failure.evalue)}"
    except (CellTimeoutError, DeadKernelError) as failure:
        where = _describe(notebook, index)
        stop = (f"timed out: the time limit of {timeout:g} s ran out in {where}"
                if isinstance(failure, CellTimeoutError) else f"the kernel died in {where}")
        _settle(exercises, verdicts.read(verdict_file)[seen:], f"did not finish: {stop}")
        raise _Stopped(stop) from None
    _settle(exercises, verdicts.read(verdict_file)[seen:], error)
    if error is not None and not exercises:
        raise _Stopped(f"{_describe(notebook, index)} raised {error}")


def _settle(exercises: list[Exercise], new_verdicts: list[dict], error: str | None) -> None:
    """Give the exercises of one check cell the verdicts its checkers wrote while it ran, in order.

    An exercise without a verdict is WRONG with the cell's ``error`` (its check raised before its checker could
    decide, e.g. a NameError) or, if the cell raised nothing, because its check wrote no verdict (not a checker of
    ``vae_tutorial.course.exercises``); exercises after a failed one in the same cell are not reached.
    """
    for exercise, verdict in zip(exercises, new_verdicts):
        exercise.status, exercise.message = verdict["status"], verdict.get("message")
    rest = exercises[len(new_verdicts):]
    if not rest:
        return
    stopped_by_a_check = error is not None and new_verdicts and new_verdicts[-1]["status"] == WRONG
    if not stopped_by_a_check:
        rest[0].status = WRONG
        rest[0].message = error or "its check wrote no verdict (not a checker of vae_tutorial.course.exercises?)"
        rest = rest[1:]
    for exercise in rest:
        exercise.message = "not reached: a check before it in the same cell failed"


def _kernel_manager():
    """A manager for a Python kernel in this interpreter, whatever kernels Jupyter has registered elsewhere."""
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
