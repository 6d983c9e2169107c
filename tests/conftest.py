"""Shared fixtures: small data sets and one tiny trained run, made once per session."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]


def default_sigint():
    """In a child process: Ctrl-C as usual, also when the test process has SIGINT ignored (as a shell's
    background job without job control does); a child that inherits it never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(*args, cwd=None, timeout=600, env=None, interrupt=None):
    """Run ``python -m vae_tutorial ARGS``; return the CompletedProcess (text).

    ``interrupt="POINT:N:SIGNAL"`` runs it through ``tests/interrupt_cli.py``, which sends the signal there.
    """
    command = [sys.executable, "-m", "vae_tutorial"] if interrupt is None else \
        [sys.executable, str(ROOT / "tests" / "interrupt_cli.py"), interrupt]
    return subprocess.run([*command, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, preexec_fn=default_sigint)


def load_file(path):
    """The Python file ``path`` (relative to the repository) imported as a module: scripts, solutions and
    benchmarks are not packages."""
    import importlib.util

    path = ROOT / path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli_here(capsys, *args):
    """``vae-tutorial ARGS`` in this process, for what needs no fresh process: a CompletedProcess (text)."""
    from vae_tutorial.cli import main

    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit:  # argparse's errors and --help
        code = exit.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


def pytest_collection_modifyitems(items):
    """The notebooks are part of the slow tier (``pytest -m "not slow"`` leaves them out)."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def make_messy_folder(root: Path) -> tuple[set[str], set[str]]:
    """A folder with every kind of file a user's folder holds. Returns (good names, bad names)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nested" / "deeper").mkdir(parents=True)
    good, bad = set(), set()

    def add(name, write, is_good):
        path = root / name
        write(path)
        (good if is_good else bad).add(name)

    rgb = np.zeros((80, 120, 3), np.uint8)
    rgb[:, :60] = (255, 0, 0)
    add("rgb.png", lambda p: Image.fromarray(rgb).save(p), True)
    add("grey.png", lambda p: Image.new("L", (64, 64), 128).save(p), True)
    rgba = Image.new("RGBA", (64, 64), (0, 0, 255, 0))  # fully transparent blue: must become white
    add("rgba.png", lambda p: rgba.save(p), True)
    pal = Image.new("P", (64, 64), 0)
    pal.putpalette([0, 255, 0] + [0] * 765)
    add("palette.gif", lambda p: pal.save(p, transparency=0), True)  # transparent → white
    add("sixteen_bit.png", lambda p: Image.fromarray(np.full((64, 64), 32896, np.uint16)).save(p), True)
    add("cmyk.jpg", lambda p: Image.new("CMYK", (64, 64), (255, 0, 0, 0)).save(p, quality=95), True)
    add("UPPER.PNG", lambda p: Image.new("RGB", (64, 64), (10, 20, 30)).save(p, format="PNG"), True)
    add("ünïcødé_绘画.png", lambda p: Image.new("RGB", (64, 64), (200, 100, 50)).save(p), True)
    add("nested/deeper/inner.jpeg", lambda p: Image.new("RGB", (300, 200), (0, 128, 0)).save(p), True)
    add("zero.jpg", lambda p: p.write_bytes(b""), False)
    add("text.jpg", lambda p: p.write_text("this is not a picture"), False)
    add("corrupt.png", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200)), False)
    good_png = root / "rgb.png"
    add("truncated.png", lambda p: p.write_bytes(good_png.read_bytes()[:-60]), False)
    add("notes.txt", lambda p: p.write_text("a note"), False)
    return good, bad


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state: Python's, NumPy's and TensorFlow's global generators, which
    Keras draws initial weights and shuffles from. A test's result never depends on which tests ran before it.
    (Fixtures of a module or session scope are made before this runs: they seed themselves.)"""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session", autouse=True)
def image_cache_dir(tmp_path_factory):
    """The image cache of every test, and of every command line a test runs, in a temporary folder."""
    from vae_tutorial.data import CACHE_DIR_ENV

    os.environ[CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("image-cache"))
    return Path(os.environ[CACHE_DIR_ENV])


@pytest.fixture
def messy_folder(tmp_path):
    good, bad = make_messy_folder(tmp_path / "messy")
    return tmp_path / "messy", good, bad


@pytest.fixture(scope="session")
def shapes_folder(tmp_path_factory):
    from vae_tutorial.data import make_shapes

    return make_shapes(tmp_path_factory.mktemp("shapes"), n=160, seed=3)


@pytest.fixture(scope="session")
def small_model_file(tmp_path_factory):
    """A saved untrained VAE of 8×8 images (under a MB): for the command line's errors that need a model
    file that loads, in-process, without ``trained_run``'s training process."""
    import keras

    from vae_tutorial.model import VAE

    keras.utils.set_random_seed(0)  # its weights: the same whichever tests ran before
    model = VAE(latent_dim=4, image_size=8, seed=0)
    model(np.zeros((1, 8, 8, 3), "float32"))  # built: an unbuilt model does not save whole
    path = tmp_path_factory.mktemp("small-model") / "model.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One epoch of the command line on a small shapes set: the run folder and the CLI result."""
    out = tmp_path_factory.mktemp("run") / "shapes-run"
    result = run_cli("train", "--data", "shapes", "--shapes", "160", "--epochs", "1", "--latent-dim", "16",
                     "--batch-size", "32", "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result
