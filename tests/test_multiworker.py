"""Two workers on this machine train together, as docs/multi-worker.md tells users to start them."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import default_sigint, run_cli
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


def test_two_workers_train_together_and_only_the_chief_writes_the_run(tmp_path):
    out = tmp_path / "run"
    cluster = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = []
    for index in range(2):
        config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config)}
        workers.append(subprocess.Popen([sys.executable, "-m", "vae_tutorial", *TRAIN, "--strategy", "multiworker",
                                         "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, preexec_fn=default_sigint))
    results = [worker.communicate(timeout=900) for worker in workers]
    for worker, (stdout, stderr) in zip(workers, results):
        assert worker.returncode == 0, stderr[-3000:]
    assert "worker 0 of 2" in results[0][0] and "worker 1 of 2" in results[1][0]
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
