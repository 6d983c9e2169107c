import pytest
import json
import re

import numpy as np
from PIL import Image

from conftest import cli_here, make_messy_folder, run_cli
from vae_tutorial.model import load_vae

NOISE = re.compile(r"^([IWE]\d{4} |WARNING: All log messages|To enable the following instructions)", re.M)


@pytest.mark.slow
def test_train_writes_every_output(trained_run):
    out, result = trained_run
    for name in ("model.keras", "history.csv", "samples.png", "reconstructions.png", "config.json",
                 "epochs/epoch_001.png", "skipped.txt", "metrics.json"):
        assert (out / name).is_file(), name
    assert Image.open(out / "samples.png").size[0] > 400
    assert load_vae(out / "model.keras").latent_dim == 16
    assert json.loads((out / "config.json").read_text())["finished"] is True
    assert "training images/s" in result.stdout and "val_reconstruction_loss" in result.stdout
    assert not NOISE.search(result.stderr), result.stderr[:2000]  # no TensorFlow start-up noise


@pytest.mark.slow
def test_running_a_finished_run_again_only_rewrites_figures(trained_run):
    out, _ = trained_run
    before = (out / "model.keras").stat().st_mtime_ns
    result = run_cli("train", "--data", "shapes", "--shapes", "160", "--epochs", "1", "--latent-dim", "16",
                     "--batch-size", "32", "--out", out)
    assert result.returncode == 0 and "already holds this finished run" in result.stdout
    assert (out / "model.keras").stat().st_mtime_ns == before


@pytest.mark.slow  # needs the trained run; the command itself runs in this process
def test_other_settings_in_the_same_folder_are_refused(trained_run, capsys):
    out, _ = trained_run
    result = cli_here(capsys, "train", "--data", "shapes", "--shapes", "160", "--epochs", "1", "--latent-dim", "8",
                      "--out", out)
    assert result.returncode == 2 and "different settings (latent_dim" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_generate_and_reconstruct(trained_run, tmp_path):
    out, _ = trained_run
    result = run_cli("generate", "--model", out / "model.keras", "--n", "8", "--out", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "g.png").size[0] > 100
    result = run_cli("reconstruct", "--model", out / "model.keras", "--data", out / "shapes" / "images", "--n", "4",
                     "--out", tmp_path / "r.png")
    assert result.returncode == 0, result.stderr
    assert np.asarray(Image.open(tmp_path / "r.png")).std() > 0


def test_missing_folder_is_one_line_exit_2(tmp_path, capsys):
    result = cli_here(capsys, "train", "--data", tmp_path / "no-such-folder", "--epochs", "1", "--out", tmp_path / "o")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "data folder not found" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_messy_folder_trains_and_reports_skips(tmp_path):
    good, bad = make_messy_folder(tmp_path / "messy")
    result = run_cli("train", "--data", tmp_path / "messy", "--epochs", "1", "--latent-dim", "4",
                     "--validation-split", "0.2", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{len(good)} usable images, {len(bad)} skipped" in result.stdout
    skipped = (tmp_path / "o" / "skipped.txt").read_text(encoding="utf-8").splitlines()
    assert len(skipped) == len(bad) and all("\t" in line for line in skipped)


def test_bad_numbers_and_missing_model_are_exit_2(tmp_path, capsys):
    result = cli_here(capsys, "train", "--epochs", "0")
    assert result.returncode == 2 and "positive integer" in result.stderr
    result = cli_here(capsys, "generate", "--model", tmp_path / "nope.keras")
    assert result.returncode == 2 and "model file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands(capsys):
    result = cli_here(capsys, "--help")
    assert result.returncode == 0
    for command, summary in [("train", "train a VAE"), ("generate", "decode random z"), ("reconstruct", "encode images")]:
        assert re.search(rf"^\s+{command}\s+{summary}", result.stdout, re.M), (command, result.stdout)


def test_negative_seed_and_a_folder_as_png_are_exit_2(small_model_file, tmp_path, capsys):
    result = cli_here(capsys, "train", "--data", "shapes", "--seed", "-1", "--out", tmp_path / "o")
    assert result.returncode == 2 and "non-negative integer" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    result = cli_here(capsys, "generate", "--model", small_model_file, "--out", tmp_path)
    assert result.returncode == 2 and "is a folder" in result.stderr and "Traceback" not in result.stderr
