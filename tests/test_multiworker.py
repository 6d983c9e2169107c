"""Two workers on this machine train together, as docs/multi-worker.md tells users to start them."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, default_sigint, run_cli
from vae_tutorial.training import runs
from vae_tutorial.saving import load_vae

pytestmark = pytest.mark.slow

TRAIN = ["train", "--data", "shapes", "--shapes", "256", "--latent-dim", "8", "--batch-size", "32", "--epochs", "3",
         "--validation-split", "0.125"]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def val_losses(out):
    import csv

    with open(out / "history.csv", newline="") as f:
        return [float(row["val_loss"]) for row in csv.DictReader(f)]


def start_workers(out, train=TRAIN, interrupt=None):
    """Two workers of ``vae-tutorial train ... --strategy multiworker`` on free ports, as docs/multi-worker.md
    starts them; ``interrupt`` as in conftest's ``run_cli``, for both workers, or a pair: one for each."""
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    interrupts = interrupt if isinstance(interrupt, (tuple, list)) else (interrupt, interrupt)
    workers = []
    for index in range(2):
        command = [sys.executable, "-m", "vae_tutorial"] if interrupts[index] is None else \
            [sys.executable, str(ROOT / "tests" / "interrupt_cli.py"), interrupts[index]]
        config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        workers.append(subprocess.Popen([*command, *train, "--strategy", "multiworker", "--out", str(out)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        preexec_fn=default_sigint))
    return workers


def finish(workers, timeout=900):
    """Each worker's ``(returncode, stdout, stderr)``; a worker still running after ``timeout`` s is killed."""
    results = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            worker.kill()
            stdout, stderr = worker.communicate()
        results.append((worker.returncode, stdout, stderr))
    return results


def finish_timed(workers, timeout=600):
    """:func:`finish`, with the time (``time.monotonic()``) each worker exited: ``(returncode, stdout, stderr,
    time)`` each; a worker still running after ``timeout`` s is killed."""
    results = [None] * len(workers)

    def wait(i):
        code, stdout, stderr = finish([workers[i]], timeout)[0]
        results[i] = (code, stdout, stderr, time.monotonic())

    threads = [threading.Thread(target=wait, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def last_line(stderr):
    """The last non-empty line of ``stderr`` (a progress bar's carriage returns end lines too)."""
    return stderr.strip().splitlines()[-1].strip()


def worker_record(out, index=1):
    """What worker ``index`` keeps in its own folder once the run has finished."""
    return sorted(p.name for p in (out / "workers" / f"worker_{index}").iterdir())


def test_two_workers_train_together_and_only_the_chief_writes_the_run(tmp_path):
    out = tmp_path / "run"
    results = finish(start_workers(out))
    for code, stdout, stderr in results:
        assert code == 0, stderr[-3000:]
    assert "worker 0 of 2" in results[0][1] and "worker 1 of 2" in results[1][1]
    # Each worker decodes only its share: 112 of the 224 training and 16 of the 32 validation images.
    for code, stdout, stderr in results:
        assert re.findall(r"decoding ([\d,]+) files", stdout) == ["128"], stdout
    assert load_vae(out / "model.keras").latent_dim == 8
    # the other worker's state is gone once the run has finished; its config.json, marked finished, stays
    assert worker_record(out) == ["config.json"]
    assert (out / "samples.png").is_file() and json.loads((out / "config.json").read_text())["finished"]

    one = tmp_path / "one"  # the same run on one worker
    assert run_cli(*TRAIN, "--out", one).returncode == 0
    two_workers, one_worker = val_losses(out), val_losses(one)
    assert len(two_workers) == len(one_worker) == 3
    # Each worker's replica sees half of each global batch with its own noise (and, with the calibrated decoder of
    # the defaults, takes σ² from its half), and the validation losses are of half the images each, averaged: the
    # same training within the noise of the sampling and of the split. The losses are negative log-likelihoods,
    # which can be negative.
    assert two_workers[-1] < two_workers[0]
    assert abs(two_workers[-1] - one_worker[-1]) <= 0.15 * abs(one_worker[-1]), (two_workers, one_worker)


def test_an_interrupted_two_worker_run_resumes(tmp_path):
    out = tmp_path / "run"
    # Each worker interrupts itself (SIGTERM, as a scheduler stops a job) after the first batch of epoch 2: both
    # have finished epoch 1, its backup included, since the batch's collective operations needed both.
    interrupted = finish(start_workers(out, interrupt="epoch2-batch:1:TERM"), timeout=600)
    assert interrupted[0][0] == 130 and (out / "backup").is_dir(), interrupted[0][2][-3000:]
    assert runs.history_epochs(out) == [0]
    resumed = finish(start_workers(out))
    for code, stdout, stderr in resumed:
        assert code == 0, stderr[-3000:]
        assert "resuming the interrupted run" in stdout and "after epoch 1" in stdout, stdout
    assert runs.history_epochs(out) == [0, 1, 2]  # the chief's history goes on from epoch 2, not from 1 again
    assert load_vae(out / "model.keras").latent_dim == 8
    assert json.loads((out / "config.json").read_text())["finished"] and worker_record(out) == ["config.json"]


# Fault cases: every worker stops within seconds with one line on stderr, and nothing is lost.

STOP_BOUND = 60  # seconds: TensorFlow's coordination service misses a worker's heartbeats after 10 s


def test_a_lost_worker_stops_the_other_with_one_line_and_the_run_resumes_later(tmp_path):
    out = tmp_path / "run"
    # Worker 1 kills itself (SIGKILL, as a crash or an out-of-memory kill) after the first batch of epoch 2.
    chief, lost = finish_timed(start_workers(out, interrupt=(None, "epoch2-batch:1:KILL")))
    assert lost[0] == -9, lost[2][-3000:]
    code, stdout, stderr, stopped = chief
    assert code == 2, stderr[-3000:]
    assert last_line(stderr) == (f"vae-tutorial: error: lost contact with worker 1 during epoch 2; the run is kept in "
                                 f"{out} (resumes after epoch 1): start every worker's command again"), stderr[-3000:]
    assert "Traceback" not in stderr and "E0000" not in stderr, stderr[-3000:]
    assert stopped - lost[3] < STOP_BOUND
    assert runs.resume_epoch(out) == 1 and runs.history_epochs(out) == [0]  # the backup of epoch 1 is kept


def test_a_finished_run_started_again_ends_at_once_on_every_worker(tmp_path):
    out = tmp_path / "run"
    one_epoch = [*TRAIN[:TRAIN.index("--epochs")], "--epochs", "1", *TRAIN[TRAIN.index("--epochs") + 2:]]
    for code, stdout, stderr in finish(start_workers(out, train=one_epoch), timeout=600):
        assert code == 0, stderr[-3000:]
    started = time.monotonic()
    again = finish_timed(start_workers(out, train=one_epoch), timeout=180)
    for code, stdout, stderr, ended in again:
        assert code == 0, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        assert ended - started < STOP_BOUND
    assert "already holds this finished run" in again[0][1]  # the chief rewrites the figures
    assert "has finished; nothing to do" in again[1][1] and "training for" not in again[1][1], again[1][1]
    assert runs.history_epochs(out) == [0]


def test_a_worker_without_a_usable_image_stops_every_worker_with_one_line(tmp_path):
    from vae_tutorial.data import list_images, split_paths
    from vae_tutorial.data import make_shapes
    from vae_tutorial.training.distribute import worker_share

    folder = make_shapes(tmp_path / "shapes", n=64, seed=1)
    train_files, val_files = split_paths(list_images(folder)[0], 0.125, 0)  # as the workers split the folder
    share = worker_share(train_files, 1, 2) + worker_share(val_files, 1, 2)
    for path in share:
        path.write_bytes(b"not an image")  # worker 1's share holds no usable image
    train = ["train", "--data", str(folder), "--latent-dim", "8", "--batch-size", "16", "--epochs", "1",
             "--validation-split", "0.125"]
    results = finish_timed(start_workers(tmp_path / "run", train=train), timeout=300)
    for code, stdout, stderr, ended in results:
        assert code == 2, stderr[-3000:]
        assert last_line(stderr) == (f"vae-tutorial: error: none of the {len(share)} image files of worker 1's share "
                                     f"of {folder} decodes (that worker lists them in its skipped.txt)"), stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
    assert abs(results[0][3] - results[1][3]) < STOP_BOUND  # the chief stops with worker 1, not after it
