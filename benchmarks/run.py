"""Training speed of vae_tutorial against a plain keras-io-style VAE, measured side by side.

    python benchmarks/run.py            # the full table, quality over 3 seeds (about 9 minutes on 2 CPU cores)
    python benchmarks/run.py --quick    # a smaller run (about 3 minutes)
    python benchmarks/run.py --ablation # also each change on its own

Every model trains on the same cached tf.data pipeline of emoji PNGs, one epoch at a time,
in turns (A, B, A, B, ...), and the table gives medians: on a shared machine the turns see
the same load. Two rates per model: images per second of wall time, and images per second of
this process's CPU time (steadier when other programs share the CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import vae_tutorial  # noqa: E402,F401  (imports TensorFlow quietly)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from reference import build_reference, torch_vae  # noqa: E402
from vae_tutorial import losses  # noqa: E402
from vae_tutorial.data import emoji_dir, emoji_group_of  # noqa: E402
from vae_tutorial.data import find_images, make_pipeline, split_paths  # noqa: E402
from vae_tutorial.fast import default_precision, subpixel  # noqa: E402
from vae_tutorial.fast.subpixel import SubPixelConv2DTranspose  # noqa: E402
from vae_tutorial.model import LOG_VAR_MAX, LOG_VAR_MIN  # noqa: E402
from vae_tutorial.training import build_vae, train  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu_model()}, {os.cpu_count()} logical CPUs; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
            f"load average {load}")


class EpochTimer(keras.callbacks.Callback):
    """Wall and CPU seconds of each epoch's training batches (validation excluded), and the wall
    seconds from the last batch to the end of the epoch's callbacks (this one runs after ``train``'s)."""

    def __init__(self):
        super().__init__()
        self.wall, self.cpu, self.after = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = (time.perf_counter(), time.process_time())

    def on_train_batch_end(self, batch, logs=None):
        self.end = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.wall.append(self.end[0] - self.start[0])
        self.cpu.append(self.end[1] - self.start[1])
        self.after.append(time.perf_counter() - self.end[0])


class Contender:
    """A model trained one epoch per call; it records each epoch's wall and CPU time."""

    def __init__(self, name, note, make):
        self.name, self.note, self.make = name, note, make
        self.wall, self.cpu, self.after = [], [], []

    def epoch(self, data, images, out_dir):
        raise NotImplementedError


class KerasContender(Contender):
    """A Keras model, made on first use, trained one epoch per call by :meth:`fit_one_epoch`.

    ``traced_with``: a context manager active during every epoch (the first traces the training step).
    """

    def __init__(self, name, note, make, traced_with=contextlib.nullcontext):
        super().__init__(name, note, make)
        self.traced_with = traced_with

    def epoch(self, data, images, out_dir):
        if not hasattr(self, "model"):
            keras.utils.set_random_seed(0)
            self.model = self.make()
        timer = EpochTimer()
        with self.traced_with():  # also if Keras traced the step again
            self.fit_one_epoch(data, images, out_dir, timer)
        self.wall += timer.wall
        self.cpu += timer.cpu
        self.after += timer.after


class ProjectContender(KerasContender):
    """``build_vae()`` trained with ``vae_tutorial.training.train``, as the command line does."""

    def fit_one_epoch(self, data, images, out_dir, timer):
        train(self.model, data, None, epochs=1, out_dir=out_dir / self.name, images_per_epoch=images, verbose=0,
              extra_callbacks=[timer])


class FitContender(KerasContender):
    """A model trained with plain ``fit``."""

    def fit_one_epoch(self, data, images, out_dir, timer):
        self.model.fit(data, epochs=1, verbose=0, callbacks=[timer], shuffle=False)  # the pipeline shuffles


class TorchContender(Contender):
    def epoch(self, data, images, out_dir):
        if not hasattr(self, "step"):
            self.model, self.step = self.make()
        start = (time.perf_counter(), time.process_time())
        for batch in data.as_numpy_iterator():
            self.step(batch)
        self.wall.append(time.perf_counter() - start[0])
        self.cpu.append(time.process_time() - start[1])


def project(**kwargs):
    return lambda: build_vae(**kwargs)


def contenders(ablation: bool, with_torch: bool) -> list[Contender]:
    chosen = [
        ProjectContender("vae_tutorial", f"build_vae() defaults (precision {default_precision()}, fused Adam, "
                         "SubPixelConv2DTranspose), trained by training.train", project()),
        ProjectContender("vae_tutorial, fast=False", "build_vae(fast=False): the plain Keras model of the notebooks "
                         "(float32, Keras' Adam and Conv2DTranspose), trained by training.train", project(fast=False)),
        FitContender("keras-io reference", "same model and loss: custom train_step, GradientTape, float32, "
                     "Keras Adam, no XLA", build_reference),
    ]
    if ablation:
        chosen += [
            ProjectContender("float32, fused Adam", "float32 with the fused Adam kernel", project(precision="float32")),
            ProjectContender("float32, fused Adam, sub-pixel", "float32 with SubPixelConv2DTranspose(sub_pixel=True)",
                             lambda: _with_sub_pixel(build_vae(precision="float32"), True)),
            ProjectContender("bfloat16, Keras Adam", "mixed bfloat16 with keras.optimizers.Adam",
                             lambda: _with_keras_adam(build_vae(precision="mixed_bfloat16"))),
            ProjectContender("defaults, Keras transposed conv", "the defaults with SubPixelConv2DTranspose(sub_pixel="
                             "False): Keras' own Conv2DTranspose computation", lambda: _with_sub_pixel(build_vae(), False)),
            ProjectContender("defaults, BiasAddGrad", "the defaults with TensorFlow's BiasAddGrad for the transposed "
                             "convolutions' bias gradient (in bfloat16 it sums in bfloat16)", project(), _with_bias_add_grad),
            ProjectContender("defaults, tf.nn.depth_to_space", "the defaults with TensorFlow's depth_to_space op in "
                             "the stride-2 layers", project(), _with_depth_to_space_op),
            ProjectContender("defaults + steps_per_execution 16", "", project(steps_per_execution=16)),
            ProjectContender("defaults + XLA", "jit_compile=True", project(jit_compile=True)),
            ProjectContender("float32 + XLA", "jit_compile=True", project(precision="float32", jit_compile=True)),
        ]
    if with_torch:
        try:
            import torch

            chosen.append(TorchContender(f"PyTorch {torch.__version__.split('+')[0]} eager",
                                         f"same model and loss, float32, {torch.get_num_threads()} threads",
                                         torch_vae))
        except ImportError:
            print("note: PyTorch is not installed (pip install '.[torch]'); its row is left out\n")
    return chosen


def _with_sub_pixel(model, sub_pixel):
    for layer in model.decoder.layers:
        if isinstance(layer, SubPixelConv2DTranspose):
            layer.sub_pixel = sub_pixel  # read when fit first traces the training step
    return model


def _with_bias_add_grad():
    """While active, SubPixelConv2DTranspose's bias gradient is traced as BiasAddGrad."""
    return mock.patch.object(subpixel, "_bias_gradient", lambda dy: tf.raw_ops.BiasAddGrad(out_backprop=dy))


def _with_depth_to_space_op():
    """While active, the stride-2 SubPixelConv2DTranspose layers are traced with tf.nn.depth_to_space."""
    return mock.patch.object(subpixel, "_depth_to_space", lambda z: tf.nn.depth_to_space(z, 2))


def _with_keras_adam(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def timed_passes(data, passes):
    """Images per second of each full pass over ``data``."""
    rates = []
    for _ in range(passes):
        start, n = time.perf_counter(), 0
        for batch in data:
            n += int(batch.shape[0])
        rates.append(n / (time.perf_counter() - start))
    return rates


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def peak_memory(kind, paths_file, epochs, batch_size):
    """Peak resident memory and memory at the end (MiB) of a training run in a fresh process (Linux)."""
    command = [sys.executable, __file__, "--child-memory", kind, paths_file, str(epochs), str(batch_size)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return f"failed ({result.stderr.strip().splitlines()[-1:]}) | -"
    return result.stdout.strip().splitlines()[-1]


def child_memory(kind, paths_file, epochs, batch_size):
    paths = Path(paths_file).read_text().splitlines()
    data = make_pipeline(paths, batch_size, shuffle=True, seed=0)
    keras.utils.set_random_seed(0)
    if kind == "vae_tutorial":
        with tempfile.TemporaryDirectory() as out:
            train(build_vae(), data, None, epochs=epochs, out_dir=out, images_per_epoch=len(paths), verbose=0)
    else:
        build_reference().fit(data, epochs=epochs, verbose=0, shuffle=False)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    mib = lambda key: int(status[key].split()[0]) // 1024  # noqa: E731  (the values are in kB)
    print(f"{mib('VmHWM')} | {mib('VmRSS')}")


def validation_loss(model, val_ds, seed):
    """Mean loss per validation image, every model drawing the same noise: eps for batch i is
    ``stateless_normal(seed=(seed, i))``. Keras' own val_loss draws from each model's generator
    and weights batches differently in the two kinds of model (by size, or equally)."""
    total, count = 0.0, 0
    for i, x in enumerate(val_ds):
        mu, log_var = model.encoder(x, training=False)
        mu, log_var = tf.cast(mu, tf.float32), tf.clip_by_value(tf.cast(log_var, tf.float32), LOG_VAR_MIN, LOG_VAR_MAX)
        eps = tf.random.stateless_normal(tf.shape(mu), seed=(seed, i))
        reconstruction = model.decoder(mu + tf.exp(0.5 * log_var) * eps, training=False)
        per_image = losses.reconstruction_loss(x, reconstruction) + losses.kl_divergence(mu, log_var)
        total, count = total + float(tf.reduce_sum(per_image)), count + int(x.shape[0])
    return total / count


def quality(paths, epochs, batch_size, out_dir, seeds):
    """Validation loss after ``epochs`` epochs for each seed: the project's default, float32, and the reference.

    For each seed the three models start from the same initial weights, draw the same sampling noise (their
    generators in the same state) and see the training images in the same order (each its own pipeline,
    shuffled with the seed), so they differ only in their arithmetic: a difference between seeds is not mistaken
    for one between models. All are scored by :func:`validation_loss`.
    """
    train_paths, val_paths = split_paths(paths, 0.1, seed=0, group_of=emoji_group_of())
    val_ds = make_pipeline(val_paths, batch_size, shuffle=False)
    results = {"vae_tutorial (defaults)": [], "vae_tutorial float32": [], "keras-io reference": []}
    for seed in range(seeds):
        keras.utils.set_random_seed(seed)
        initial = build_vae(precision="float32", seed=seed)
        weights = initial.encoder.get_weights(), initial.decoder.get_weights()
        for name, slug, make in [("vae_tutorial (defaults)", "defaults", lambda: build_vae(seed=seed)),
                                 ("vae_tutorial float32", "float32", lambda: build_vae(precision="float32", seed=seed)),
                                 ("keras-io reference", "reference", lambda: build_reference(seed=seed))]:
            keras.utils.set_random_seed(seed)
            model = make()
            model.encoder.set_weights(weights[0])
            model.decoder.set_weights(weights[1])
            model.sampling.seed_generator.state.assign(initial.sampling.seed_generator.state)  # build_vae drew once
            train_ds = make_pipeline(train_paths, batch_size, shuffle=True, seed=seed)
            if name.startswith("vae_tutorial"):
                train(model, train_ds, None, epochs=epochs, out_dir=out_dir / f"quality-{slug}-{seed}",
                      images_per_epoch=len(train_paths), verbose=0)
            else:
                model.fit(train_ds, epochs=epochs, verbose=0, shuffle=False)
            results[name].append(validation_loss(model, val_ds, seed))
    return results, len(train_paths), len(val_paths)


def paired(values, reference):
    """The mean ± standard error of the per-seed differences from ``reference``, in per cent."""
    diffs = [100 * (v - r) / r for v, r in zip(values, reference)]
    if len(diffs) < 2:
        return f"{diffs[0]:+.2f} %"
    return f"{statistics.mean(diffs):+.2f} ± {statistics.stdev(diffs) / len(diffs) ** 0.5:.2f} %"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images, turns and epochs")
    parser.add_argument("--ablation", action="store_true", help="also time each change on its own")
    parser.add_argument("--images", type=int, help="training images for the speed table (default 1280, quick 640)")
    parser.add_argument("--turns", type=int, help="epochs per model after the first (default 5, quick 3)")
    parser.add_argument("--quality-epochs", type=int, help="epochs for the validation loss (default 5, quick 2; 0: skip)")
    parser.add_argument("--seeds", type=int, help="seeds for the validation loss (default 3, quick 1)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even when installed")
    parser.add_argument("--child-memory", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        kind, paths_file, epochs, batch_size = args.child_memory
        return child_memory(kind, paths_file, int(epochs), int(batch_size))

    images = args.images or (640 if args.quick else 1280)
    turns = args.turns or (3 if args.quick else 5)
    quality_epochs = args.quality_epochs if args.quality_epochs is not None else (2 if args.quick else 5)
    out_dir = Path(tempfile.mkdtemp(prefix="vae-bench-"))
    print(f"Machine: {machine_line()}")
    print(f"Command: python benchmarks/run.py {' '.join(sys.argv[1:])}".rstrip())

    all_paths = [str(p) for p in find_images(emoji_dir(), progress=False).paths]
    paths = all_paths[:images]
    images = len(paths)
    paths_file = out_dir / "paths.txt"
    paths_file.write_text("\n".join(paths))

    # The input pipeline: the first pass decodes and resizes every PNG, later passes read the cache.
    data = make_pipeline(paths, args.batch_size, shuffle=True, seed=0)
    first = timed_passes(data, 1)[0]
    cached = statistics.median(timed_passes(data, 3))

    runners = contenders(args.ablation, not args.no_torch)
    for turn in range(turns + 1):  # turn 0 is the first epoch (tracing and compilation included)
        for runner in runners:
            runner.epoch(data, images, out_dir)
    print(f"\nTraining: {images} emoji images (64×64), batch {args.batch_size}, {turns} timed epochs per model "
          f"after the first, taken in turns; medians. Load average now {os.getloadavg()[0]:.2f}.\n")
    reference = next(r for r in runners if r.name == "keras-io reference")
    ref_rate = images / statistics.median(reference.wall[1:])
    ref_cpu_rate = images / statistics.median(reference.cpu[1:])
    rows = []
    for r in runners:
        rate, cpu_rate = images / statistics.median(r.wall[1:]), images / statistics.median(r.cpu[1:])
        rows.append([r.name, f"{rate:.0f}", f"{rate / ref_rate:.2f}×", f"{cpu_rate:.0f}",
                     f"{cpu_rate / ref_cpu_rate:.2f}×", f"{r.wall[0]:.1f}", f"{statistics.median(r.wall[1:]):.1f}",
                     f"{statistics.median(r.after[1:]):.2f}" if r.after else "–"])
    print(table(rows, ["model", "images/s", "vs reference", "images/CPU-s", "vs reference (CPU)",
                       "first epoch s", "later epochs s", "epoch end s"]))
    print("  epoch end s: from the last batch to the end of the epoch's callbacks; for training.train the "
          "checkpoint model.keras, the backup, the TensorBoard logs and the sample grid, which the other columns "
          "leave out")
    for r in runners:
        if r.note:
            print(f"  {r.name}: {r.note}")
    project_rate = images / statistics.median(runners[0].wall[1:])

    print(f"\nInput pipeline (make_pipeline on {images} PNGs, batch {args.batch_size}):\n")
    print(table([["first pass (Pillow decode, resize, cache)", f"{first:.0f}", f"{first / project_rate:.1f}×"],
                 ["cached passes (median of 3)", f"{cached:.0f}", f"{cached / project_rate:.1f}×"]],
                ["pass", "images/s", "vs vae_tutorial training"]))

    memory_epochs = 2
    print(f"\nPeak resident memory of a training run ({memory_epochs} epochs on the {images} images, own process):\n")
    print(table([[kind, *peak_memory(kind, str(paths_file), memory_epochs, args.batch_size).split(" | ")]
                 for kind in ("vae_tutorial", "keras-io reference")], ["run", "peak RSS MiB", "RSS at the end MiB"]))

    if quality_epochs:
        seeds = args.seeds or (1 if args.quick else 3)
        results, n_train, n_val = quality(all_paths, quality_epochs, args.batch_size, out_dir, seeds)
        ref = statistics.mean(results["keras-io reference"])
        print(f"\nQuality: validation loss (per image) after {quality_epochs} epochs on the emoji set "
              f"({n_train} training, {n_val} validation images), seeds 0 to {seeds - 1}; each seed's three models "
              f"from the same initial weights, noise and image order, scored with the same noise; lower is better:\n")
        print(table([[k, f"{statistics.mean(v):.2f}", " / ".join(f"{x:.1f}" for x in v),
                      f"{100 * (statistics.mean(v) - ref) / ref:+.2f} %", paired(v, results["keras-io reference"])]
                     for k, v in results.items()],
                    ["model", "mean val_loss", "each seed", "mean vs reference", "per seed vs reference"]))
        print("  per seed vs reference: the mean and standard error of each seed's difference from the reference's "
              "same seed")
    print(f"\nLoad average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
