"""The package as users meet it: a command line that starts at once, and models that load with plain Keras."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test starts a fresh Python process


def python(code, timeout=300):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_the_command_lines_help_and_argument_errors_do_not_import_tensorflow():
    code = """
import contextlib, io, json, sys
from vae_tutorial.cli import main
codes, shown = [], []
for argv in (["--help"], ["train", "--help"], ["generate", "--help"], ["evaluate", "--help"],
             ["train", "--epochs", "0"]):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exit:
            codes.append(exit.code)
    shown.append(out.getvalue())
print(json.dumps({"codes": codes, "evaluate --k": "--k K" in shown[3],
                  "imported": sorted(m for m in ("tensorflow", "keras") if m in sys.modules)}))
"""
    assert json.loads(python(code)) == {"codes": [0, 0, 0, 0, 2], "evaluate --k": True, "imported": []}


@pytest.mark.parametrize("first, second", [("vae_tutorial", "keras"), ("keras", "vae_tutorial"),
                                           ("vae_tutorial.encoder", "keras")])  # Keras imported by the package
def test_keras_load_model_loads_a_trained_model_after_import_vae_tutorial(trained_run, first, second):
    model = trained_run[0] / "model.keras"
    code = f"""
import {first}
import {second}
model = keras.saving.load_model({str(model)!r}, safe_mode=True)
print(type(model).__name__, model.latent_dim, type(model.optimizer).__name__)
"""
    assert python(code) == "VAE 16 FusedAdam"
