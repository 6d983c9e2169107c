"""vae-tutorial grade on small notebooks written here: scaffold and check cells that call real, cheap checkers.

The tests marked slow start Jupyter kernels (a few seconds each, most of it importing TensorFlow); only
test_the_command_grades_a_handed_out_notebook_as_nothing_done starts the command itself as a process.
"""

import contextlib
import io
import json
import os
import time
from unittest import mock

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import cli_here
from vae_tutorial.course import exercises, verdicts
from vae_tutorial.cli import main
from vae_tutorial.course.grading import check_calls, Exercise, Report

UPSAMPLED = ('def my_upsampled_size(size, kernel_size, strides, padding):\n'
             '    """The side of a Conv2DTranspose\'s output for a square input of side ``size``."""\n'
             '    ...')
UPSAMPLED_WRONG = ('def my_upsampled_size(size, kernel_size, strides, padding):\n'
                   '    return size * strides  # forgets the kernel\'s overhang with padding="valid"')
UPSAMPLED_CHECK = 'from vae_tutorial.course.exercises import check_upsampled_size\n\ncheck_upsampled_size(my_upsampled_size)'
KL = 'from keras import ops\n\n\ndef my_kl_divergence(mu, log_var):\n    """KL per image."""\n    ...'
KL_RIGHT = ('from keras import ops\n\n\ndef my_kl_divergence(mu, log_var):\n'
            '    return -0.5 * ops.sum(1 + log_var - mu**2 - ops.exp(log_var), axis=-1)')
KL_CHECK = 'from vae_tutorial.course.exercises import check_kl_divergence\n\ncheck_kl_divergence(my_kl_divergence)'
SAMPLE = 'def my_sample(mu, log_var):\n    """z ~ N(mu, exp(log_var))."""\n    ...'
SAMPLE_CHECK = 'from vae_tutorial.course.exercises import check_sampling\n\ncheck_sampling(my_sample)'
WRONG_HINT = "size=8, kernel_size=3, strides=2, padding='valid': 16; with padding='valid' the last copy of the kernel overhangs"


def write_notebook(path, *sources):
    """A notebook at ``path``: a title, then one code cell per source (``%matplotlib inline`` works)."""
    cells = [new_markdown_cell("# An exercise")] + [new_code_cell(source) for source in sources]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                      "display_name": "Python 3"}}), str(path))
    return path


def handed_out(folder):
    """Three exercises, none attempted: the notebook as handed out."""
    return write_notebook(folder / "handed_out.ipynb", "%matplotlib inline\nimport vae_tutorial", UPSAMPLED,
                          UPSAMPLED_CHECK, KL, KL_CHECK, SAMPLE, SAMPLE_CHECK)


def worked(folder):
    """The first exercise wrong, the second right, the third not attempted, the fourth's scaffold deleted (its check
    raises NameError); a cell that checks the working directory and that $VAE_TUTORIAL_EPOCHS reaches the kernel."""
    return write_notebook(folder / "worked.ipynb",
                          'import os\nfrom pathlib import Path\n\nassert Path("worked.ipynb").is_file(), Path.cwd()\n'
                          'assert os.environ["VAE_TUTORIAL_EPOCHS"] == "1"',
                          UPSAMPLED_WRONG, UPSAMPLED_CHECK, KL_RIGHT, KL_CHECK, SAMPLE, SAMPLE_CHECK,
                          "from vae_tutorial.course.exercises import check_decoder\n\ncheck_decoder(build_my_decoder)")


def raises(folder):
    """A cell between the scaffold and its check raises."""
    return write_notebook(folder / "raises.ipynb", UPSAMPLED, 'open("no-such-file.csv")', UPSAMPLED_CHECK)


def sleeps(folder):
    """A cell between the scaffold and its check outlasts any short --timeout."""
    return write_notebook(folder / "sleeps.ipynb", UPSAMPLED, "import time\n\ntime.sleep(120)", UPSAMPLED_CHECK)


def run_main(*args):
    """``vae-tutorial ARGS`` in this process: ``(exit status, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------------------
# Without a kernel
# ---------------------------------------------------------------------------------------


def test_check_calls_name_one_exercise_per_call_of_a_checker():
    assert check_calls(UPSAMPLED_CHECK) == ["my_upsampled_size"]
    assert check_calls(UPSAMPLED) == []
    assert check_calls("%matplotlib inline\nfrom vae_tutorial import exercises\n\n"
                       "results = [exercises.check_sampling(my_sample)]  # check_kl_divergence(x) in a comment\n"
                       "print('check_decoder(build)')\ncheck_encoder(lambda d: None)") == ["my_sample", "check_encoder"]
    assert check_calls("check_sampling(my_sample\n") == ["check_sampling"]  # not Python: found by the text


def test_a_report_as_json_and_as_a_table():
    report = Report("nb.ipynb", [Exercise("my_sample", "right"), Exercise("build_my_encoder", "wrong", "a hint"),
                                 Exercise("my_kl", "not attempted", "it returns None")])
    assert report.as_json() == {"notebook": "nb.ipynb", "exercises": [
        {"name": "my_sample", "status": "right", "message": None},
        {"name": "build_my_encoder", "status": "wrong", "message": "a hint"},
        {"name": "my_kl", "status": "not attempted", "message": "it returns None"}], "score": 1, "out_of": 3}
    assert report.as_text() == ("nb.ipynb\n"
                                "  ✓ my_sample         right\n"
                                "  ✗ build_my_encoder  wrong: a hint\n"
                                "  ○ my_kl             not attempted: it returns None\n"
                                "  score 1/3")
    failed = Report("nb.ipynb", [Exercise("my_kl", "not attempted", "not reached: boom")], error="boom")
    assert failed.as_json()["error"] == "boom"
    assert failed.as_text() == "nb.ipynb\n  error: boom\n  ○ my_kl  not attempted: not reached: boom\n  score 0/1"


def test_each_checker_writes_one_verdict_per_call(tmp_path, monkeypatch, capsys):
    def my_upsampled_size(size, kernel_size, strides, padding):
        return size * strides

    def build_fixed_encoder(latent_dim):
        ...

    def right(size, kernel_size, strides, padding):
        return (size - 1) * strides + kernel_size if padding == "valid" else size * strides

    exercises.check_upsampled_size(right)  # no variable: nothing written anywhere
    path = tmp_path / "verdicts.jsonl"
    monkeypatch.setenv(verdicts.VARIABLE, str(path))
    with pytest.raises(AssertionError):
        exercises.check_upsampled_size(my_upsampled_size)
    exercises.check_find_the_bug_encoder(build_fixed_encoder)  # it calls check_encoder: one line all the same
    exercises.check_upsampled_size(right)
    assert verdicts.read(path) == [
        {"check": "check_upsampled_size", "function": "my_upsampled_size", "status": "wrong", "message": WRONG_HINT},
        {"check": "check_find_the_bug_encoder", "function": "build_fixed_encoder", "status": "not attempted",
         "message": "it returns None"},
        {"check": "check_upsampled_size", "function": "right", "status": "right", "message": None}]
    capsys.readouterr()
    checkers = [name for name in dir(exercises) if name.startswith("check_")]
    assert len(checkers) == 18 and all(hasattr(getattr(exercises, name), "__wrapped__") for name in checkers)


def test_usage_errors_are_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a notebook")
    for args, phrase in [((tmp_path / "missing.ipynb",), "no such notebook file"),
                         ((tmp_path / "notes.txt",), "not a notebook (.ipynb)"),
                         ((tmp_path / "notes.txt", "--timeout", "0"), "expected a positive number")]:
        result = cli_here(capsys, "grade", *args)
        assert result.returncode == 2 and result.stdout == "", result
        assert result.stderr.count("\n") == 1 and phrase in result.stderr, result.stderr


def test_a_notebook_that_cannot_be_read_is_reported_in_one_line(tmp_path, capsys):
    (tmp_path / "broken.ipynb").write_text("{not json")
    result = cli_here(capsys, "grade", tmp_path / "broken.ipynb")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout == (f"{tmp_path / 'broken.ipynb'}\n  error: cannot read the notebook: NotJSONError: "
                             "Notebook does not appear to be JSON: '{not json'\n  score 0/0\n")


# ---------------------------------------------------------------------------------------
# With a kernel
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``(exit status, {notebook name: its JSON report}, stderr)`` of ``grade raises.ipynb worked.ipynb --json``."""
    folder = tmp_path_factory.mktemp("graded")
    with mock.patch.dict(os.environ, {"VAE_TUTORIAL_EPOCHS": "1"}):
        code, out, err = run_main("grade", raises(folder), worked(folder), "--json")
    reports = json.loads(out)["notebooks"]
    return code, {os.path.basename(report["notebook"]): report for report in reports}, err


@pytest.mark.slow
def test_a_wrong_answer_is_recorded_and_the_later_exercises_are_graded(graded):
    code, reports, err = graded
    assert reports["worked.ipynb"]["exercises"] == [
        {"name": "my_upsampled_size", "status": "wrong", "message": WRONG_HINT},
        {"name": "my_kl_divergence", "status": "right", "message": None},
        {"name": "my_sample", "status": "not attempted", "message": "it returns None"},
        {"name": "build_my_decoder", "status": "wrong", "message": "NameError: name 'build_my_decoder' is not defined"}]
    assert (reports["worked.ipynb"]["score"], reports["worked.ipynb"]["out_of"]) == (1, 4)
    assert "error" not in reports["worked.ipynb"]


@pytest.mark.slow
def test_a_notebook_that_raises_is_one_line_and_grading_goes_on(graded):
    code, reports, err = graded
    stop = ("cell 3 (`open(\"no-such-file.csv\")`) raised FileNotFoundError: [Errno 2] No such file or directory: "
            "'no-such-file.csv'")
    assert reports["raises.ipynb"] == {
        "notebook": reports["raises.ipynb"]["notebook"],
        "exercises": [{"name": "my_upsampled_size", "status": "not attempted", "message": f"not reached: {stop}"}],
        "score": 0, "out_of": 1, "error": stop}
    assert list(reports) == ["raises.ipynb", "worked.ipynb"]  # the next notebook was graded all the same
    assert code == 1 and err == ""


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_notebook_that_runs_out_of_time_is_one_line(tmp_path, capsys):
    path = sleeps(tmp_path)
    start = time.monotonic()
    result = cli_here(capsys, "grade", path, "--timeout", "2")
    assert time.monotonic() - start < 60  # the cell sleeps for 120 s
    stop = "timed out: the time limit of 2 s ran out in cell 3 (`import time`)"
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout == (f"{path}\n  error: {stop}\n"
                             f"  ○ my_upsampled_size  not attempted: not reached: {stop}\n  score 0/1\n")


@pytest.mark.slow
def test_the_command_grades_a_handed_out_notebook_as_nothing_done(tmp_path):
    path = handed_out(tmp_path)
    before = path.read_bytes()
    code, out, err = run_main("grade", path, "--json")  # in this process: the kernel is the only process it needs
    assert code == 0 and err == "", err[-2000:]
    assert json.loads(out) == {"notebooks": [{"notebook": str(path), "exercises": [
        {"name": name, "status": "not attempted", "message": "it returns None"}
        for name in ("my_upsampled_size", "my_kl_divergence", "my_sample")], "score": 0, "out_of": 3}]}
    assert path.read_bytes() == before  # the notebook is only read


def test_a_mistake_offers_its_hint_and_gives_it_on_request(tmp_path, monkeypatch):
    from vae_tutorial.course.verdicts import Mistake

    @verdicts.recorded
    def check_thing(fn):
        raise Mistake("the sign is wrong", hint="look at the second term")

    def mine():
        pass

    monkeypatch.setenv(verdicts.VARIABLE, str(tmp_path / "v.jsonl"))
    with pytest.raises(AssertionError) as plain:
        check_thing(mine)
    assert str(plain.value) == "the sign is wrong (For a hint: check_thing(mine, hint=True))"
    with pytest.raises(AssertionError) as helped:
        check_thing(mine, hint=True)
    assert str(helped.value) == "the sign is wrong Hint: look at the second term"
    lines = (tmp_path / "v.jsonl").read_text().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["the sign is wrong"] * 2
