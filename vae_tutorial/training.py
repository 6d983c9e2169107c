"""Training: build the compiled VAE exactly as the command line trains it, and run ``fit``.

Keras callbacks do the bookkeeping:

- ``BackupAndRestore`` (:class:`AtomicBackupAndRestore`) writes ``model.keras`` after every
  epoch (atomically: a temporary file, then a rename), so an interrupted run still leaves a
  loadable model, and keeps the training state in ``backup/`` (also written atomically, its
  weights a hard link to ``model.keras``), so running the same command again resumes an
  interrupted run. It runs last at the end of an epoch: once it has saved, every other output
  of that epoch is complete;
- ``CSVLogger`` appends each epoch's losses to ``history.csv``;
- :class:`StopOnDivergence` (a ``TerminateOnNaN``) stops a diverging run at the first NaN
  or infinite loss and raises :class:`TrainingDiverged`, leaving every file as it was
  after the last good epoch;
- :class:`SampleGrid` writes a grid decoded from a fixed set of z after each epoch;
- :class:`Throughput` adds the epoch's training images per second to the logs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import keras
import numpy as np

from vae_tutorial import _testhook
from vae_tutorial.model import VAE
from vae_tutorial.optimizers import FusedAdam

DEFAULTS = {"latent_dim": 512, "batch_size": 64, "epochs": 50, "learning_rate": 1e-3, "image_size": 64, "seed": 0}


def epochs_from_env(default: int = DEFAULTS["epochs"]) -> int:
    """The epoch count from ``$VAE_TUTORIAL_EPOCHS`` (used to shorten notebook runs), else ``default``."""
    value = os.environ.get("VAE_TUTORIAL_EPOCHS", "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"VAE_TUTORIAL_EPOCHS must be a positive integer, got {value!r}")
    return int(value)


PRECISIONS = ("auto", "float32", "mixed_bfloat16")
STRATEGIES = ("default", "mirrored", "multiworker")


def default_precision() -> str:
    """``"mixed_bfloat16"`` on a CPU with bfloat16 arithmetic units and no GPU, else ``"float32"``.

    Measured with ``benchmarks/run.py``: on CPUs with AMX-BF16 (Intel Xeon 4th generation and
    later) or AVX-512 BF16 (AMD Zen 4 and later) the bfloat16 convolutions and matrix products
    (oneDNN) make a training step much faster, at a validation loss within about 1 % of
    float32's. On a GPU, and on CPUs without these units, float32 is the safe choice.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "float32"
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return "float32"
    return "mixed_bfloat16" if has_bfloat16_units(cpuinfo) else "float32"


def has_bfloat16_units(cpuinfo: str) -> bool:
    """Whether the ``flags`` of a ``/proc/cpuinfo`` text name AMX-BF16 or AVX-512 BF16."""
    flags = {flag for line in cpuinfo.splitlines() if line.split(":", 1)[0].strip() == "flags"
             for flag in line.split(":", 1)[1].split()}
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def make_strategy(name: str = "default"):
    """A ``tf.distribute`` strategy by name.

    ``"default"``: this process's devices as Keras uses them without a strategy.
    ``"mirrored"``: a replica on every GPU of this machine (all-reduce of the gradients).
    ``"multiworker"``: one replica per device on several machines, configured by ``$TF_CONFIG``.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Argument `strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")


def build_vae(
    latent_dim: int = DEFAULTS["latent_dim"],
    learning_rate: float = DEFAULTS["learning_rate"],
    image_size: int = DEFAULTS["image_size"],
    seed: int | None = DEFAULTS["seed"],
    reconstruction_reduction: str = "sum",
    steps_per_execution: int = 1,
    jit_compile: bool | str = False,
    precision: str = "auto",
    strategy=None,
) -> VAE:
    """A built, compiled VAE with Adam, as ``vae-tutorial train`` uses it.

    ``precision``: ``"auto"`` (see :func:`default_precision`), ``"float32"`` or
    ``"mixed_bfloat16"`` (layers compute in bfloat16, weights, loss and outputs stay float32).
    ``strategy``: a ``tf.distribute`` strategy (or a name for :func:`make_strategy`); the
    model and optimizer are made in its scope. XLA (``jit_compile``) is off: it was slower on CPUs.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    if precision not in PRECISIONS:
        raise ValueError(f"Argument `precision` must be one of {PRECISIONS}. Received: precision={precision!r}")
    if precision == "auto":
        precision = default_precision()
    if strategy is None or isinstance(strategy, str):
        strategy = make_strategy(strategy or "default")
    with strategy.scope():
        model = VAE(latent_dim=latent_dim, image_size=image_size,
                    reconstruction_reduction=reconstruction_reduction, seed=seed, dtype=precision)
        model.compile(optimizer=FusedAdam(learning_rate), steps_per_execution=steps_per_execution,
                      jit_compile=jit_compile)
        model(np.zeros((1, image_size, image_size, 3), "float32"))  # build every layer before saving
    return model


def fixed_latents(n: int, latent_dim: int, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``n`` latent vectors z ~ N(0, temperature² I), the same for the same seed."""
    return (temperature * np.random.default_rng(seed).standard_normal((n, latent_dim))).astype("float32")


TMP_MARK = ".tmp"  # temporary files are ".<name>.tmp<suffix>" next to their target


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name[:-len(path.suffix) or None]}{TMP_MARK}{path.suffix}")


def replace_atomically(write, path: str | os.PathLike) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``: never a half-written file.

    If ``write`` fails or is interrupted, the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temporary_files(out_dir) -> list[Path]:
    """Remove temporary files a killed run left in ``out_dir`` (and one level below); return them."""
    out_dir = Path(out_dir)
    found = [p for pattern in (f".*{TMP_MARK}*", f"*/.*{TMP_MARK}*") for p in out_dir.glob(pattern) if p.is_file()]
    for path in found:
        path.unlink()
    return found


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``epoch`` is 1-based, as Keras prints it."""

    def __init__(self, epoch, batch, loss):
        super().__init__(f"the loss became {loss} in epoch {epoch} (batch {batch + 1})")
        self.epoch, self.batch, self.loss = epoch, batch, loss


class StopOnDivergence(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN`` that raises :class:`TrainingDiverged` naming the epoch.

    Raising (rather than setting ``stop_training``) skips the end-of-epoch callbacks and
    ``on_train_end``: the NaN weights are never saved, and ``model.keras``, ``backup/``
    and ``history.csv`` stay as they were after the last good epoch.
    """

    def __init__(self):
        super().__init__(raise_error=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise TrainingDiverged(self.epoch + 1, batch, float(loss))


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a second name for ``source`` (a hard link: no copying), or a copy where the file system
    has no links. For files that are only ever replaced by a rename, never rewritten (``model.keras`` and the
    backup's files)."""
    target.unlink(missing_ok=True)  # a temporary file a killed run left
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in NO_HARD_LINKS:  # a copy into an existing name could rewrite another file's data
            raise
        shutil.copyfile(source, target)


NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}  # os.link's "cannot link"


BACKUP_WEIGHTS, BACKUP_METADATA = "latest.keras", "training_metadata.json"  # in backup/
LEGACY_WEIGHTS = "latest.weights.h5"  # the backup's weights before they were a link to model.keras


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that also writes the ``checkpoint`` (``model.keras``), and whose files are each
    written to a temporary file and renamed.

    Keras writes ``backup/latest.weights.h5`` and ``training_metadata.json`` in place, so a kill during
    the write leaves a half-written file. Here, after each epoch, ``checkpoint`` is saved and renamed
    into place, the backup's weights ``backup/latest.keras`` become a second name for it (a hard link:
    the 100 MB of weights and optimizer state are written once), and the metadata (the epoch to resume
    after) is renamed into place last: it never names an epoch whose weights are not complete (a kill -9
    before its rename repeats one epoch on resume). With ``double_checkpoint`` the previous state is kept
    as ``*.bkp``: the weights by a hard link, the metadata by a copy. A damaged latest state is replaced
    from the ``.bkp`` files before Keras restores, also by renames. An epoch whose loss is NaN or infinite
    is not saved.
    """

    def __init__(self, backup_dir, checkpoint, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.checkpoint = Path(checkpoint)
        self._weights_path = str(Path(backup_dir) / BACKUP_WEIGHTS)  # Keras' load_weights reads a .keras file
        self._prev_weights_path = f"{self._weights_path}.bkp"

    def on_train_begin(self, logs=None):
        backup = Path(self.backup_dir)
        if _damaged_latest(backup):  # restore the epoch before, by renames (Keras would copy in place)
            for name in (BACKUP_METADATA, BACKUP_WEIGHTS):  # metadata first: a kill between repeats an epoch
                previous = backup / f"{name}.bkp"
                if previous.exists():
                    replace_atomically(lambda p: _link_or_copy(previous, p), backup / name)
                else:
                    (backup / name).unlink(missing_ok=True)
            if not _opens_as_keras_file(self.checkpoint):  # damaged with the latest: the same file
                replace_atomically(lambda p: _link_or_copy(backup / BACKUP_WEIGHTS, p), self.checkpoint)
        weights = _backup_weights(backup)
        if weights is None:  # metadata alone: Keras would resume at its epoch with new weights
            (backup / BACKUP_METADATA).unlink(missing_ok=True)
            return super().on_train_begin(logs)
        self._weights_path = str(weights)  # latest.keras, or the weights of a backup from before it
        try:
            super().on_train_begin(logs)
        finally:
            self._weights_path = str(backup / BACKUP_WEIGHTS)

    def on_epoch_end(self, epoch, logs=None):
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            return
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        weights, metadata = Path(self._weights_path), Path(self._training_metadata_path)
        if self.double_checkpoint:
            if weights.exists():
                replace_atomically(lambda p: _link_or_copy(weights, p), self._prev_weights_path)
            if metadata.exists():  # small: copied (a link would do too, as every write is a rename)
                replace_atomically(lambda p: shutil.copyfile(metadata, p), self._prev_training_metadata_path)
        replace_atomically(self._write_checkpoint, self.checkpoint)
        replace_atomically(self._link_checkpoint, weights)
        state = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        replace_atomically(lambda p: p.write_text(json.dumps(state)), metadata)

    def _write_checkpoint(self, tmp):
        self.model.save(tmp)
        _testhook.reached("checkpoint")

    def _link_checkpoint(self, tmp):
        _link_or_copy(self.checkpoint, tmp)
        _testhook.reached("backup")


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, decode a fixed set of z and save the grid as ``epoch_NNN.png``.

    The same z every epoch, so the grids show how the decoder's images develop.
    """

    def __init__(self, directory, z, ncols=8):
        super().__init__()
        self.directory = Path(directory)
        self.z = z
        self.ncols = ncols

    def on_epoch_end(self, epoch, logs=None):
        from vae_tutorial.data import visualize_batch

        images = np.asarray(self.model.decoder(self.z, training=False))
        fig = visualize_batch(images, ncols=self.ncols, cell_size=0.8,
                              title=f"Generated from fixed z ~ N(0, I), after epoch {epoch + 1}")
        self.directory.mkdir(parents=True, exist_ok=True)
        replace_atomically(lambda p: fig.savefig(p, format="png", dpi=80), self.directory / f"epoch_{epoch + 1:03d}.png")


class TestHook(keras.callbacks.Callback):
    """Reports each finished batch to :mod:`vae_tutorial._testhook` (does nothing outside tests)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        _testhook.reached(f"epoch{self.epoch + 1}-batch")


class Throughput(keras.callbacks.Callback):
    """Adds ``images_per_second`` (training images per second of the epoch) to the logs."""

    def __init__(self, images_per_epoch):
        super().__init__()
        self.images_per_epoch = images_per_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end = time.perf_counter()  # excludes the validation pass at the end of the epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["images_per_second"] = self.images_per_epoch / max(self.end - self.start, 1e-9)


def training_callbacks(out_dir, latent_dim, images_per_epoch, seed=0, n_samples=32):
    """The callbacks ``train`` uses, writing into ``out_dir``."""
    out_dir = Path(out_dir)
    return [
        StopOnDivergence(),
        Throughput(images_per_epoch),
        TestHook(),
        SampleGrid(out_dir / "epochs", fixed_latents(n_samples, latent_dim, seed)),
        keras.callbacks.CSVLogger(str(out_dir / "history.csv"), append=True),
        # last: it writes model.keras and commits the epoch
        AtomicBackupAndRestore(str(out_dir / "backup"), out_dir / "model.keras", double_checkpoint=True),
    ]


def resume_epoch(out_dir) -> int:
    """How many epochs the interrupted run in ``out_dir`` finished (0 when there is none).

    Read from the state the backup resumes from: the latest, or the epoch before it where the
    latest is damaged (see :func:`_damaged_latest`); 0 where there are no weights to resume from.
    """
    backup = Path(out_dir) / "backup"
    if _damaged_latest(backup):
        return _backup_epoch(backup / f"{BACKUP_METADATA}.bkp") or 0
    if _backup_weights(backup) is None:
        return 0
    return _backup_epoch(backup / BACKUP_METADATA) or 0


def _backup_weights(backup: Path) -> Path | None:
    """The weights the backup resumes from: ``latest.keras``, or ``latest.weights.h5`` in a backup written
    before the backup linked ``model.keras``; None where there are none."""
    for name in (BACKUP_WEIGHTS, LEGACY_WEIGHTS):
        if (backup / name).exists():
            return backup / name
    return None


def _backup_epoch(metadata: Path) -> int | None:
    """The epoch a backup's metadata file names; None when it is missing or does not parse."""
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _damaged_latest(backup: Path) -> bool:
    """Whether the latest backup cannot be loaded (weights missing or not a whole ``.keras`` file, or
    metadata that does not parse) while the previous epoch's weights (``.bkp``) are there to resume from instead."""
    if not (backup / f"{BACKUP_WEIGHTS}.bkp").exists():
        return False
    weights, metadata = backup / BACKUP_WEIGHTS, backup / BACKUP_METADATA
    if not _opens_as_keras_file(weights):
        return True
    return metadata.exists() and _backup_epoch(metadata) is None


def _opens_as_keras_file(path: Path) -> bool:
    """Whether ``path`` is a whole ``.keras`` archive with its weights: its zip directory and the checksum of
    every member read back (about 0.1 s for 100 MB; only when training starts)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "model.weights.h5" in archive.namelist() and archive.testzip() is None
    except (OSError, EOFError, zipfile.BadZipFile):
        return False


def _trim_history(path: Path, epochs: int) -> None:
    """Keep the rows of ``history.csv`` for the first ``epochs`` epochs only (none: remove it)."""
    if not path.exists():
        return
    if epochs == 0:
        path.unlink()
        return
    lines = path.read_text().splitlines(keepends=True)
    width = lines[0].count(",") if lines else 0
    # rows of finished epochs only: a row cut short by a kill, or of an epoch after the backup, goes
    kept = lines[:1] + [line for line in lines[1:] if line.endswith("\n") and line.count(",") == width
                        and line.split(",", 1)[0].isdigit() and int(line.split(",", 1)[0]) < epochs]
    replace_atomically(lambda p: p.write_text("".join(kept)), path)


def train(model, train_data, validation_data=None, epochs=DEFAULTS["epochs"], out_dir="runs/vae",
          images_per_epoch=None, seed=0, verbose="auto", extra_callbacks=()):
    """``model.fit`` with the callbacks above; returns the Keras ``History``.

    Resumes from ``out_dir/backup`` when a previous run there was interrupted; otherwise
    starts a fresh ``history.csv``. Raises :class:`TrainingDiverged` when the loss becomes
    NaN or infinite.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if images_per_epoch is None:
        images_per_epoch = sum(int(batch.shape[0]) for batch in train_data)
    remove_temporary_files(out_dir)
    _trim_history(out_dir / "history.csv", resume_epoch(out_dir))
    callbacks = training_callbacks(out_dir, model.latent_dim, images_per_epoch, seed) + list(extra_callbacks)
    return model.fit(train_data, validation_data=validation_data, epochs=epochs, shuffle=False,
                     callbacks=callbacks, verbose=verbose)


def load_or_train(model_path, data_dir, epochs, out_dir, latent_dim=DEFAULTS["latent_dim"], group_of=None, seed=0):
    """The VAE saved at ``model_path`` if there is one; otherwise train one on ``data_dir`` into ``out_dir``.

    Prints which of the two it did, so a notebook's output says where its model came from.
    """
    from vae_tutorial.data import load_dataset
    from vae_tutorial.model import load_vae

    model_path = Path(model_path)
    if model_path.is_file():
        print(f"Loaded the trained model {model_path}")
        return load_vae(model_path)
    print(f"No trained model at {model_path}: training a new one for {epochs} epochs into {out_dir}")
    keras.utils.set_random_seed(seed)
    train_ds, val_ds = load_dataset(data_dir, validation_split=0.1, seed=seed, group_of=group_of, progress=False)
    model = build_vae(latent_dim=latent_dim, seed=seed)
    train(model, train_ds, val_ds, epochs=epochs, out_dir=out_dir, seed=seed, verbose=0)
    return model
