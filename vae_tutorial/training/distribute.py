"""What ``tf.distribute`` needs beyond plain Keras: a strategy by name, per-replica noise and loss,
and on several machines a pipeline per worker and what a worker needs to stop cleanly when another
fails (see :func:`gather_from_workers` and :func:`lost_worker`).

Under a strategy with several replicas, Keras sums the replicas' gradients and multiplies the
loss it reports by the number of replicas: its own losses return each replica's share, and so
does :class:`DistributedVAE`. Every replica holds a copy of the sampling layer's seed state, so
:class:`ReplicaSampling` adds the replica's number to the seed: each replica's part of the batch
gets its own noise.
"""

import re

import keras
import numpy as np
import tensorflow as tf

from vae_tutorial.config import STRATEGIES
from vae_tutorial.model import VAE
from vae_tutorial.sampling import Sampling


def make_strategy(strategy=None):
    """A ``tf.distribute`` strategy: ``strategy`` itself, or one by name.

    ``None`` or ``"default"``: this process's devices as Keras uses them without a strategy.
    ``"mirrored"``: a replica on every GPU of this machine (all-reduce of the gradients).
    ``"multiworker"``: one replica per device on several machines, configured by ``$TF_CONFIG``.
    """
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    raise ValueError(f"Argument `strategy` must be one of {STRATEGIES} or a tf.distribute.Strategy. "
                     f"Received: strategy={strategy!r}")


def worker(strategy):
    """``(index, count)`` of this process among the workers of ``strategy`` (``(0, 1)`` on one machine)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return 0, 1
    return _index_and_count(resolver)


def configured_worker():
    """``(index, count)`` of this process among the workers ``$TF_CONFIG`` lists (``(0, 1)`` without one).

    Read from the variable alone, before any strategy exists: nothing starts and no worker is
    waited for. A malformed ``$TF_CONFIG`` raises ``ValueError``.
    """
    return _index_and_count(tf.distribute.cluster_resolver.TFConfigClusterResolver())


def _index_and_count(resolver):
    task_type = resolver.task_type or "worker"
    if task_type not in resolver.cluster_spec().jobs:  # no $TF_CONFIG: this process alone
        return 0, 1
    return resolver.task_id or 0, resolver.cluster_spec().num_tasks(task_type)


def worker_share(paths, index, count):
    """Worker ``index``'s share of ``paths`` among ``count`` workers: every ``count``-th path from the ``index``-th."""
    return list(paths)[index::count]


def per_worker_pipeline(strategy, share, per_worker, batch_size, make_pipeline, **kwargs):
    """``make_pipeline`` over this worker's ``share`` of the images, for a global batch of ``batch_size``.

    Every worker passes its own share (the images it decoded, see :func:`worker_share`) and the
    same ``per_worker``, the number of images each worker takes per epoch: the share is cut to it,
    or repeated from its start up to it where some of its files did not decode. Batches are of the
    per-replica size with the remainder dropped, so that every replica takes the same number of
    steps of the same shape, as the collective operations require. Raises ``ValueError`` when
    ``share`` is empty or ``per_worker`` is not positive.
    """
    share = list(share)
    if not share or per_worker < 1:
        raise ValueError(f"Argument `share` must hold images and `per_worker` must be positive. Received: "
                         f"{len(share)} images in share, per_worker={per_worker!r}")
    share = (share * -(-per_worker // len(share)))[:per_worker]

    def dataset(context):
        per_replica = max(1, min(context.get_per_replica_batch_size(batch_size), len(share)))
        return make_pipeline(share, per_replica, drop_remainder=True, **kwargs)

    options = tf.distribute.InputOptions(experimental_fetch_to_device=False)
    return strategy.distribute_datasets_from_function(dataset, options)


def gather_from_workers(strategy, numbers):
    """Every worker's ``numbers`` (a list of as many ints on each), in worker order, on every worker.

    One small collective operation, which every worker must enter: a worker that would stop on
    its own (say, its share holds no usable image) enters it first and stops after it, with the
    others, instead of leaving them waiting in a later collective operation.
    """
    index, count = worker(strategy)
    table = np.zeros((count, len(numbers)), np.int64)
    table[index] = numbers
    return strategy.reduce("SUM", tf.constant(table), axis=None).numpy().tolist()


def lost_worker(error, index):
    """Whether TensorFlow's ``error`` says another worker is lost, and which: ``(lost, its index or None)``.

    A worker that is killed, crashes or becomes unreachable stops sending heartbeats to the
    coordination service (missed after about 10 s), or its connections fail; TensorFlow then aborts
    the collective operations on every other worker, which raise ``UnavailableError`` (or
    ``DeadlineExceededError`` when the heartbeat itself times out). Its message names the lost task
    as ``/job:worker/replica:0/task:N`` or ``/job:worker/task:N``, or says that the coordination
    service, which runs on worker 0, did not answer; ``index`` is this worker's own.
    """
    text = str(error)
    lost = isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)) or \
        "Collective ops is aborted" in text
    if not lost:
        return False, None
    others = [int(n) for n in re.findall(r"/job:\w+/(?:replica:\d+/)?task:(\d+)", text) if int(n) != index]
    if not others and index != 0 and "coordinationservice" in text.replace(" ", "").lower():
        others = [0]
    return True, (others[0] if others else None)


class TrainingPhase(keras.callbacks.Callback):
    """Where ``fit`` is, for a message: ``epoch`` is the epoch under way (1-based, as Keras prints it;
    ``None`` before the first), ``ended`` whether the last one has finished."""

    def __init__(self):
        super().__init__()
        self.epoch, self.ended = None, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_end(self, logs=None):
        self.ended = True


@keras.saving.register_keras_serializable(package="vae_tutorial")
class ReplicaSampling(Sampling):
    """:class:`~vae_tutorial.sampling.Sampling` whose noise differs between replicas."""

    def call(self, inputs):
        mu, log_var = inputs
        seed = self.seed_generator.next()
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            seed = seed + tf.cast(tf.stack([replica.replica_id_in_sync_group, 0]), seed.dtype)
        eps = tf.random.stateless_normal(tf.shape(mu), seed=seed, dtype=mu.dtype)
        return mu + tf.exp(0.5 * log_var) * eps


@keras.saving.register_keras_serializable(package="vae_tutorial")
class DistributedVAE(VAE):
    """:class:`~vae_tutorial.model.VAE` whose loss is this replica's share; same weights and layer names."""

    def __init__(self, *args, sampling=None, **kwargs):
        super().__init__(*args, sampling=sampling or ReplicaSampling(seed=kwargs.get("seed"), name="sampling"),
                         **kwargs)

    def compute_loss(self, *args, **kwargs):
        return super().compute_loss(*args, **kwargs) / tf.distribute.get_strategy().num_replicas_in_sync

    def train_step(self, data):
        return _with_an_axis(super().train_step(data))

    def test_step(self, data):
        return _with_an_axis(super().test_step(data))


def _with_an_axis(logs):
    """Under ``MultiWorkerMirroredStrategy`` Keras averages each worker's logs with
    ``strategy.reduce("MEAN", value, axis=0)``, which needs an axis: give each scalar one."""
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def vae_class():
    """:class:`DistributedVAE` under a strategy with several replicas, else :class:`VAE`."""
    return DistributedVAE if tf.distribute.get_strategy().num_replicas_in_sync > 1 else VAE
