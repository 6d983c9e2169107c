import pytest
import json
import re

import numpy as np
from PIL import Image

from conftest import cli_here, make_messy_folder, run_cli
from vae_tutorial.saving import load_vae

NOISE = re.compile(r"^([IWE]\d{4} |WARNING: All log messages|To enable the following instructions)", re.M)


@pytest.mark.slow
def test_train_writes_every_output(trained_run):
    out, result = trained_run
    for name in ("model.keras", "history.csv", "samples.png", "samples_prior.png", "reconstructions.png",
                 "config.json", "epochs/epoch_001.png", "skipped.txt", "metrics.json", "mixture.npz"):
        assert (out / name).is_file(), name
    assert Image.open(out / "samples.png").size[0] > 400
    assert not np.array_equal(np.asarray(Image.open(out / "samples.png")),
                              np.asarray(Image.open(out / "samples_prior.png")))  # the mixture's, not the prior's
    assert load_vae(out / "model.keras").latent_dim == 16
    assert json.loads((out / "config.json").read_text())["finished"] is True
    assert "training images/s" in result.stdout and "fitting a mixture of 10 Gaussians" in result.stdout
    # Each number named for what it is: the validation terms of one sampled z (the default decoder's
    # reconstruction term is a log-likelihood), the error from the mean codes.
    assert re.search(r"one z ~ q\(z\|x\) per image: reconstruction -?[\d.]+ \(the decoder's negative "
                     r"log-likelihood per image, less D/2·log π\), KL [\d.]+ nats", result.stdout), result.stdout[-2000:]
    assert re.search(r"decoded from their mean codes, squared error \(sum\) [\d.]+ per image \(per-pixel MSE "
                     r"0\.\d{4}\)", result.stdout), result.stdout[-2000:]
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
    assert "sampling the run's mixture of 10 Gaussians" in result.stdout  # train fitted it
    prior = run_cli("generate", "--model", out / "model.keras", "--n", "8", "--sampler", "prior",
                    "--out", tmp_path / "p.png")
    assert prior.returncode == 0 and "mixture" not in prior.stdout
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "g.png")), np.asarray(Image.open(tmp_path / "p.png")))
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


@pytest.mark.slow
def test_evaluate_two_sample_compares_prior_and_mixture_samples_with_held_out_images(trained_run, tmp_path):
    out, _ = trained_run
    result = run_cli("evaluate", "--model", out / "model.keras", "--data", "shapes", "--k", "1", "--two-sample",
                     "--json", tmp_path / "e.json")
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads((tmp_path / "e.json").read_text())["two_sample"]
    held_out = json.loads((tmp_path / "e.json").read_text())["images"]
    for sampler in ("prior", "mixture"):
        assert numbers[sampler]["n"] == 2 * held_out and 0 <= numbers[sampler]["accuracy"] <= 1
        assert re.search(rf"{sampler} +accuracy {100 * numbers[sampler]['accuracy']:.1f} % ± ", result.stdout)
    assert "prior − mixture: " in result.stdout


@pytest.mark.slow
def test_train_with_the_defaults_ends_with_the_codes_in_use_on_simple_images(tmp_path):
    # With --decoder-variance fixed (σ² = ½) this run collapses in its third epoch (KL 0.06 nats, 0 of 512
    # dimensions active) and stays so. The default, a calibrated decoder, collapses for a while too (epochs 4
    # and 5 when measured) and then puts its codes to use (504 of 512 dimensions active after epoch 16).
    result = run_cli("train", "--data", "shapes", "--shapes", "600", "--epochs", "16", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert not numbers["collapsed"] and numbers["active_units"] > 256, numbers
    assert json.loads((tmp_path / "o" / "config.json").read_text())["decoder_variance"] == "optimal"
    if numbers["collapsed_epochs"]:  # each collapse is said, and so is its end
        assert "warning: the posterior collapsed in epoch" in result.stdout
        assert "the posterior is no longer collapsed in epoch" in result.stdout


def test_validation_terms_are_named_for_each_decoder_variance():
    from vae_tutorial.commands.train import validation_summary as _validation_summary

    last = {"val_reconstruction_loss": 303.58, "val_kl_loss": 55.2}
    assert _validation_summary(last, "fixed") == ("validation, last epoch, one z ~ q(z|x) per image: reconstruction "
                                                  "303.58 (squared error summed per image), KL 55.20 nats")
    for variance in ("learned", "optimal"):
        assert "reconstruction 303.58 (the decoder's negative log-likelihood per image, less D/2·log π)" in \
            _validation_summary(last, variance)
