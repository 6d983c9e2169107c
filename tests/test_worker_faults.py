"""What a worker of a multi-worker run needs to stop cleanly, checked without starting workers
(tests/test_multiworker.py starts them): which worker TensorFlow's errors name, TensorFlow's account
of the failure held back from stderr, and a finished worker's record."""

import os

import pytest
import tensorflow as tf

from vae_tutorial.training import runs
from vae_tutorial.training.distribute import lost_worker
from vae_tutorial.quiet import runtime_log_held

# TensorFlow 2.21's messages on 127.0.0.1 (shortened): worker 1 killed, seen by worker 0; worker 0 killed, and
# worker 0 stopped (SIGSTOP), seen by worker 1.
HEARTBEATS = ("Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most recent call last):\n"
              "Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are "
              "unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed.")
RESET = ("{{function_node __wrapped__CollectiveReduceV2_device_/job:worker/replica:0/task:1/device:CPU:0}} Collective "
         "ops is aborted by: recvmsg:Connection reset by peer\nAdditional GRPC error information from remote target "
         "/job:worker/replica:0/task:0 while calling /tensorflow.WorkerService/CompleteInstance:")
SILENT_LEADER = ("Graph execution error:\n\nCollective ops is aborted by: Deadline Exceeded\n\n"
                 "RPC: /tensorflow.CoordinationService/Heartbeat\nThe error could be from a previous operation.")


@pytest.mark.parametrize("error, index, lost", [
    (tf.errors.UnavailableError(None, None, HEARTBEATS), 0, 1),
    (tf.errors.UnavailableError(None, None, RESET), 1, 0),
    (tf.errors.DeadlineExceededError(None, None, SILENT_LEADER), 1, 0),
    (tf.errors.UnavailableError(None, None, "failed to connect to all addresses"), 0, None),
])
def test_a_lost_worker_is_named_from_tensorflows_error(error, index, lost):
    assert lost_worker(error, index) == (True, lost)


def test_other_errors_are_no_lost_worker():
    assert lost_worker(tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]"), 0) == \
        (False, None)


def test_tensorflows_account_of_a_failure_is_dropped_and_what_came_before_it_kept(capfd):
    with runtime_log_held() as log:
        os.write(2, b"a line of the run\n")
        os.write(2, b"E0000 00:00:1796564380.660015   10252 base_collective_executor.cc:252] "
                    b"BaseCollectiveExecutor::StartAbort UNAVAILABLE: Error reported from /job:worker/task:1:\n"
                    b"/job:worker/replica:0/task:1\nThe tasks have crashed.\n")
        log.drop_failure()
    assert capfd.readouterr().err == "a line of the run\n"


def test_held_lines_pass_when_nothing_failed(capfd):
    with runtime_log_held():
        os.write(2, b"E0000 00:00:1796564380.660015   10252 some_op.cc:1] an error TensorFlow logged\n")
    assert "an error TensorFlow logged" in capfd.readouterr().err


def test_a_workers_finished_record_is_a_finished_run(tmp_path):
    config = {"data": "shapes", "latent_dim": 8, "batch_size": 32, "learning_rate": 0.001, "validation_split": 0.1,
              "seed": 0, "image_size": 64, "shapes": 256, "decoder_variance": "fixed", "beta": 1.0}
    runs.write_config(tmp_path, {**config, "epochs": 3, "finished": True})  # all that worker 1 keeps
    assert runs.run_state(tmp_path, config, 3, keeps_model=False) == "finished"
    assert runs.run_state(tmp_path, config, 3) == "new"  # the chief's folder needs its model
    with pytest.raises(runs.RunFolderError, match="finished run of 3 epochs"):
        runs.run_state(tmp_path, config, 4, keeps_model=False)
