"""Nothing lost, nothing confusing: interruption, divergence, bad input, messy folders, untrusted files.

The interruption tests stop the command line at exact places with ``tests/interrupt_cli.py``
(the process sends itself SIGINT or SIGTERM there), then run the same command again and check
the resumed run.
"""

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, cli_here, default_sigint, make_messy_folder, run_cli
from vae_tutorial import data, training
from vae_tutorial.data import folders
from vae_tutorial.training import runs
from vae_tutorial.saving import load_vae, ModelFileError

EPOCHS = 3
PROGRESS_BAR = re.compile(r"^Reading images: +\d+%\|")
TRAIN = ["train", "--data", "shapes", "--shapes", "200", "--latent-dim", "8", "--batch-size", "32",
         "--epochs", str(EPOCHS)]  # 180 training images: 6 batches per epoch


def temporary_files(out: Path) -> list[Path]:
    return [p for p in out.rglob(".*") if ".tmp" in p.name]


def history_epochs(out: Path) -> list[int]:
    with open(out / "history.csv", newline="") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def assert_one_line_error(result, *phrases):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    # the progress bar erases itself with carriage returns, which text mode reads as new lines
    message = [line for line in result.stderr.splitlines() if line.strip() and not PROGRESS_BAR.match(line)]
    assert len(message) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    for phrase in phrases:
        assert phrase in message[0], message[0]


# ---------------------------------------------------------------------------------------
# Interruption
# ---------------------------------------------------------------------------------------

# (where, signal, epochs finished and committed to backup/ when the signal arrives)
KILL_POINTS = [
    ("image:50", "INT", 0),        # while reading the folder (50 of 200 images read)
    ("epoch2-batch:1", "TERM", 1),  # mid-epoch: after the first of 6 batches of epoch 2
    ("checkpoint:2", "INT", 1),    # model.keras of epoch 2 written to its temporary file, not renamed
    ("backup:2", "TERM", 1),       # backup weights of epoch 2 written, its metadata (the epoch) not yet
]


@pytest.mark.parametrize("point,signame,finished", KILL_POINTS, ids=[k[0] for k in KILL_POINTS])
@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_end(tmp_path, point, signame, finished):
    out = tmp_path / "run"
    result = run_cli(*TRAIN, "--out", out, interrupt=f"{point}:{signame}")
    assert result.returncode == 130, result.stderr[-3000:]
    assert "interrupted. Run the same command again to resume" in result.stderr
    assert "Traceback" not in result.stderr
    assert temporary_files(out) == []  # no temporary file left behind
    assert training.resume_epoch(out) == finished
    if finished:
        assert history_epochs(out)[:finished] == list(range(finished))
        assert load_vae(out / "model.keras").latent_dim == 8  # never half-written
        assert not (out / "epochs" / f"epoch_{finished + 2:03d}.png").exists()

    (out / "epochs").mkdir(exist_ok=True)
    (out / "epochs" / ".epoch_001.tmp.png").write_bytes(b"half")  # what a kill -9 during a write would leave
    result = run_cli(*TRAIN, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    if finished:
        assert f"resuming the interrupted run in {out} after epoch {finished}" in result.stdout
        assert f"Epoch {finished + 1}/{EPOCHS}" in result.stdout and "Epoch 1/" not in result.stdout
    assert history_epochs(out) == list(range(EPOCHS))  # continuous: each epoch once
    assert load_vae(out / "model.keras").latent_dim == 8
    assert json.loads((out / "config.json").read_text())["finished"] is True
    assert sorted(p.name for p in (out / "epochs").iterdir()) == [f"epoch_{e:03d}.png" for e in range(1, EPOCHS + 1)]
    assert not (out / "backup").exists() and temporary_files(out) == []


@pytest.mark.slow
def test_ctrl_c_from_outside_after_the_first_epoch_resumes(tmp_path):
    """A real Ctrl-C from another process, sent once the first epoch's grid appears."""
    out = tmp_path / "run"
    long_run = [*TRAIN[:-1], "6"]  # five epochs after the first: the signal arrives long before the end
    command = [sys.executable, "-m", "vae_tutorial", *long_run, "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_sigint)
    deadline = time.monotonic() + 600
    while not (out / "epochs" / "epoch_001.png").exists() and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=600)[1]
    assert process.returncode != 0, "the run finished before the signal arrived: this test needs a longer run"
    assert process.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert temporary_files(out) == []
    result = run_cli(*long_run, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert history_epochs(out) == list(range(6))
    assert load_vae(out / "model.keras").latent_dim == 8


@pytest.mark.slow
def test_a_run_killed_before_it_was_marked_finished_is_finished(trained_run, tmp_path):
    """Killed after the last epoch (backup/ already removed) but before config.json said so."""
    out = tmp_path / "run"
    shutil.copytree(trained_run[0], out)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "finished": False}))
    before = (out / "model.keras").stat().st_mtime_ns
    result = run_cli("train", "--data", "shapes", "--shapes", "160", "--epochs", "1", "--latent-dim", "16",
                     "--batch-size", "32", "--out", out)
    assert result.returncode == 0 and "already holds this finished run" in result.stdout, result.stderr[-2000:]
    assert (out / "model.keras").stat().st_mtime_ns == before and history_epochs(out) == [0]


def test_a_killed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "samples.png"
    target.write_bytes(b"old")

    def write_then_die(path):
        Path(path).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runs.replace_atomically(write_then_die, target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["samples.png"]


def test_stale_temporary_files_are_removed_when_training_starts(tmp_path):
    (tmp_path / "backup").mkdir()
    stale = [tmp_path / ".model.tmp.keras", tmp_path / "backup" / ".latest.tmp.keras"]
    for path in stale:
        path.write_bytes(b"half")
    (tmp_path / "keep.txt").write_text("x")
    assert sorted(runs.remove_temporary_files(tmp_path)) == sorted(stale)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["keep.txt"]


def test_history_rows_of_unfinished_epochs_are_trimmed(tmp_path):
    history = tmp_path / "history.csv"
    finished = "epoch,loss\n" + "".join(f"{e},{10 - e / 2}\n" for e in range(12))
    history.write_text(finished + "12,4.5\n13,4.")  # epochs 12, 13 not in the backup; 13's row cut short
    runs.trim_history(history, 12)
    assert history.read_text() == finished
    history.write_text(finished + "1")  # epoch 12's row cut after its first digit: it reads as epoch 1
    runs.trim_history(history, 12)
    assert history.read_text() == finished


def test_ctrl_c_while_reading_a_folder_stops_the_reading(tmp_path, monkeypatch):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        Image.new("RGB", (4, 4), (i % 256, 0, 0)).save(folder / f"{i:03d}.png")
    read = []
    original = folders._read_image

    def slow_then_ctrl_c(path, image_size):
        read.append(path)
        if len(read) == 10:  # Ctrl-C, delivered to the main thread, which waits for the results
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        return original(path, image_size)

    monkeypatch.setattr(folders, "_read_image", slow_then_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            data.find_images(folder, progress=False, workers=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(read) < 300  # the images not yet started were cancelled


# ---------------------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_absurd_learning_rate_stops_with_one_line_naming_the_epoch(tmp_path):
    out = tmp_path / "run"
    result = run_cli(*TRAIN, "--learning-rate", "1e6", "--out", out)
    assert_one_line_error(result, "training diverged", "in epoch 1 ", "try a smaller --learning-rate")
    assert not (out / "model.keras").exists() and temporary_files(out) == []


class ExplodeAtEpoch(keras.callbacks.Callback):
    """Sets an absurd learning rate when the given (0-based) epoch begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.optimizer.learning_rate.assign(1e12)


def test_divergence_keeps_the_last_good_epoch(shapes_folder, tmp_path):
    paths = data.find_images(shapes_folder, progress=False).paths
    train_ds = data.make_pipeline(paths[:128], batch_size=16)
    out = tmp_path / "run"
    model = training.build_vae(latent_dim=8)
    with pytest.raises(training.TrainingDiverged) as caught:
        training.train(model, train_ds, epochs=4, out_dir=out, images_per_epoch=128, verbose=0,
                       extra_callbacks=[ExplodeAtEpoch(2)])
    assert caught.value.epoch == 3 and "in epoch 3" in str(caught.value)
    assert history_epochs(out) == [0, 1]  # no row for the diverged epoch
    assert training.resume_epoch(out) == 2  # the backup of the last good epoch is kept
    good = load_vae(out / "model.keras")
    assert all(np.isfinite(w).all() for w in good.get_weights())
    assert sorted(os.listdir(out / "epochs")) == ["epoch_001.png", "epoch_002.png"]
    assert temporary_files(out) == []


# ---------------------------------------------------------------------------------------
# Bad input on the command line
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args,phrase", [
    (["--epochs", "0"], "--epochs: expected a positive integer, got '0'"),
    (["--epochs", "-2"], "--epochs: expected a positive integer, got '-2'"),
    (["--batch-size", "0"], "--batch-size: expected a positive integer"),
    (["--batch-size", "-8"], "--batch-size: expected a positive integer"),
    (["--latent-dim", "0"], "--latent-dim: expected a positive integer"),
    (["--latent-dim", "two"], "--latent-dim: expected a positive integer, got 'two'"),
    (["--learning-rate", "-1"], "--learning-rate: expected a positive number"),
    (["--learning-rate", "nan"], "--learning-rate: expected a positive number"),
])
def test_invalid_numbers_are_one_line_exit_2(args, phrase, capsys):
    assert_one_line_error(cli_here(capsys, "train", *args), phrase)


def test_unwritable_output_folder_is_one_line_exit_2(tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out in (a_file / "run", a_file, Path("/proc/vae-tutorial-run")):
        result = cli_here(capsys, "train", "--data", "shapes", "--epochs", "1", "--out", out)
        assert_one_line_error(result, f"cannot write to output folder {out}")


def test_bad_model_files_are_one_line_exit_2(tmp_path, capsys):
    lambda_model = tmp_path / "lambda.keras"
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(lambda_model)
    blob = lambda_model.read_bytes()
    (tmp_path / "truncated.keras").write_bytes(blob[: len(blob) // 2])
    damaged = bytearray(blob)
    damaged[100:400] = b"x" * 300
    (tmp_path / "corrupt.keras").write_bytes(bytes(damaged))
    (tmp_path / "picture.keras").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    (tmp_path / "model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    cases = [("missing.keras", "model file not found"), ("model.h5", "not a .keras model file"),
             ("picture.keras", "not a valid .keras file"), ("truncated.keras", "not a valid .keras file"),
             ("corrupt.keras", "could not load"), ("lambda.keras", "contains code (a Lambda layer)")]
    for name, phrase in cases:
        result = cli_here(capsys, "generate", "--model", tmp_path / name, "--out", tmp_path / "g.png")
        assert_one_line_error(result, phrase)
    assert not (tmp_path / "g.png").exists()


def test_lambda_layer_is_refused_by_load_vae(tmp_path):
    path = tmp_path / "lambda.keras"
    inputs = keras.Input((4,))
    keras.Model(inputs, keras.layers.Lambda(lambda t: t + 1)(inputs)).save(path)
    with pytest.raises(ModelFileError, match="contains code"):
        load_vae(path)


@pytest.mark.slow
def test_an_output_folder_never_mixes_two_runs(tmp_path, capsys):
    out = tmp_path / "run"
    result = run_cli(*TRAIN, "--out", out, interrupt="epoch3-batch:1:TERM")  # the refusals below: in this process
    assert result.returncode == 130 and training.resume_epoch(out) == 2, result.stderr[-2000:]
    for change, phrase in [(["--latent-dim", "16"], "different settings (latent_dim: 8, now 16)"),
                           (["--shapes", "300"], "different settings (shapes: 200, now 300)"),
                           (["--seed", "1"], "different settings (seed: 0, now 1)"),
                           (["--epochs", "1"], "already finished 2 epochs, more than --epochs 1")]:
        result = cli_here(capsys, *TRAIN, *change, "--out", out)
        assert_one_line_error(result, phrase)
    assert training.resume_epoch(out) == 2 and history_epochs(out) == [0, 1]  # untouched
    (out / "config.json").write_text("{not json")
    assert_one_line_error(cli_here(capsys, *TRAIN, "--out", out), "config.json is not valid JSON")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "model.keras").write_bytes(b"someone else's")
    assert_one_line_error(cli_here(capsys, *TRAIN, "--out", stranger), "holds files of another run")


# ---------------------------------------------------------------------------------------
# Messy folders at scale
# ---------------------------------------------------------------------------------------

GOOD_PER_BAD = 4  # a fifth of the files are bad


def make_messy_folder_at_scale(root: Path, n_bad_each: int = 60) -> tuple[set[str], dict[str, str]]:
    """Thousands of tiny files, a fifth of them bad. Returns (good names, bad name → expected reason)."""
    small_good, small_bad = make_messy_folder(root / "small")  # every kind the loader knows, and good ones
    good = {f"small/{name}" for name in small_good}
    bad = {f"small/{name}": "" for name in small_bad}
    tiny = Image.new("RGB", (8, 8), (200, 30, 30))
    png = root / "tiny.png"
    tiny.save(png)
    png_bytes = png.read_bytes()
    png.unlink()
    jpeg = root / "tiny.jpg"
    tiny.save(jpeg, quality=90)
    jpeg_bytes = jpeg.read_bytes()
    jpeg.unlink()
    header_end = jpeg_bytes.find(b"\xff\xda") + 2  # start of scan: the header ends here
    rng = np.random.default_rng(0)
    makers = {
        "zero": (".png", lambda p: p.write_bytes(b""), "empty file"),
        "text": (".jpg", lambda p: p.write_text("not a picture"), "not an image"),
        "corrupt": (".png", lambda p: p.write_bytes(png_bytes[:16] + rng.bytes(100)), ""),
        "truncated": (".png", lambda p: p.write_bytes(png_bytes[: len(png_bytes) - 30]), "corrupt"),
        "garbage_jpeg": (".jpg", lambda p: p.write_bytes(jpeg_bytes[:header_end] + rng.bytes(200)), "corrupt"),
        "note": (".txt", lambda p: p.write_text("a note"), "not an image file type"),
        "broken_link": (".png", lambda p: p.symlink_to(root / "no-such-target.png"), "broken or looping"),
        "loop": (".png", lambda p: p.symlink_to(p.name), "broken or looping"),  # a link to itself
    }
    (root / "bad").mkdir()
    for kind, (suffix, make, reason) in makers.items():
        for i in range(n_bad_each):
            path = root / "bad" / f"{kind}_{i:03d}{suffix}"
            make(path)
            bad[f"bad/{kind}_{i:03d}{suffix}"] = reason
    (root / "bad" / "x.png").mkdir()
    bad["bad/x.png"] = "a folder, not an image file"
    Image.new("RGB", (10_000, 10_000), (0, 90, 200)).save(root / "bad" / "huge.png")
    bad["bad/huge.png"] = "image too large (10000×10000 pixels)"
    unreadable = root / "bad" / "secret.png"
    unreadable.write_bytes(png_bytes)
    unreadable.chmod(0)
    bad["bad/secret.png"] = "permission denied"
    (root / "good").mkdir()
    colours = rng.integers(0, 256, (GOOD_PER_BAD * len(bad) - len(good), 3))
    for i, colour in enumerate(colours):
        Image.new("RGB", (8, 8), tuple(int(c) for c in colour)).save(root / "good" / f"{i:04d}.png")
        good.add(f"good/{i:04d}.png")
    return good, bad


UNPRIVILEGED = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def unprivileged_prefix(env) -> list[str] | None:
    """How to run a command that honours read permissions: root reads every file, so as ``nobody``.

    None when that is impossible here (root without setpriv, or a checkout ``nobody`` cannot read).
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run([*UNPRIVILEGED, sys.executable, "-c", "import vae_tutorial"], capture_output=True,
                           env=env, cwd="/")
    return UNPRIVILEGED if probe.returncode == 0 else None


@pytest.mark.slow
def test_messy_folder_at_scale_trains_on_exactly_the_good_images(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="vae-messy-"))  # outside pytest's private folder, for `nobody`
    try:
        base.chmod(0o755)
        folder = base / "messy"
        good, bad = make_messy_folder_at_scale(folder)
        assert len(good) + len(bad) > 2000 and len(bad) >= (len(good) + len(bad)) // 5
        home = base / "home"
        home.mkdir()
        out = base / "out"
        out.mkdir()
        if os.geteuid() == 0:
            for path in (home, out):
                os.chown(path, 65534, 65534)
        env = {**os.environ, "HOME": str(home), "MPLCONFIGDIR": str(home), "PYTHONPATH": str(ROOT)}
        prefix = unprivileged_prefix(env)
        if prefix is None:  # root reads the file without read permission: it is a good image then
            good.add("bad/secret.png")
            del bad["bad/secret.png"]
        command = [*(prefix or []), sys.executable, "-m", "vae_tutorial", "train", "--data", str(folder),
                   "--epochs", "1", "--latent-dim", "4", "--batch-size", "128", "--validation-split", "0.1",
                   "--out", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env, cwd=base)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"{len(good)} usable images, {len(bad)} skipped" in result.stdout
        assert "Reading images" in result.stderr and "img/s" in result.stderr  # the progress bar
        lines = (out / "skipped.txt").read_text(encoding="utf-8").splitlines()
        reported = {}
        for line in lines:
            path, reason = line.split("\t")
            reported.setdefault(str(Path(path).relative_to(folder)), []).append(reason)
        assert set(reported) == set(bad)  # exactly the bad ones...
        assert all(len(reasons) == 1 for reasons in reported.values())  # ...each once
        for name, reason in bad.items():
            assert reason in reported[name][0], (name, reported[name])
        split = [line for line in result.stdout.splitlines() if "training and" in line][0]
        n_train, n_val = int(split.split()[1]), int(split.split()[4])
        assert n_train + n_val == len(good)
        assert load_vae(out / "model.keras").latent_dim == 4
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_find_images_threads_and_progress_bar_report_each_file_once(tmp_path, capsys):
    folder = tmp_path / "messy"
    good, bad = make_messy_folder_at_scale(folder, n_bad_each=3)
    found = data.find_images(folder, workers=4)
    skipped = [str(p.relative_to(folder)) for p, _ in found.skipped]
    assert len(skipped) == len(set(skipped))
    expected_bad = set(bad) - ({"bad/secret.png"} if os.geteuid() == 0 else set())  # root reads it
    assert set(skipped) == expected_bad
    assert len(found.paths) == len(good) + (os.geteuid() == 0)
    assert "Reading images" in capsys.readouterr().err
