"""Two workers on this machine train together, as docs/multi-worker.md tells users to start them."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, default_sigint, run_cli
from vae_tutorial import runs
from vae_tutorial.model import load_vae

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
    starts them; ``interrupt`` as in conftest's ``run_cli``."""
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    command = [sys.executable, "-m", "vae_tutorial"] if interrupt is None else \
        [sys.executable, str(ROOT / "tests" / "interrupt_cli.py"), interrupt]
    workers = []
    for index in range(2):
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
    assert not (out / "workers").exists()  # the other worker's state is gone once the run has finished
    assert (out / "samples.png").is_file() and json.loads((out / "config.json").read_text())["finished"]

    one = tmp_path / "one"  # the same run on one worker
    assert run_cli(*TRAIN, "--out", one).returncode == 0
    two_workers, one_worker = val_losses(out), val_losses(one)
    assert len(two_workers) == len(one_worker) == 3
    # Each worker's replica sees half of each global batch with its own noise, and the validation losses are of
    # half the images each, averaged: the same training within the noise of the sampling and of the split.
    assert two_workers[-1] < two_workers[0]
    assert abs(two_workers[-1] - one_worker[-1]) <= 0.15 * one_worker[-1], (two_workers, one_worker)


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
    assert json.loads((out / "config.json").read_text())["finished"] and not (out / "workers").exists()
