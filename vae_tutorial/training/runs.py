"""The run folder: atomic saves, resuming an interrupted run, and what belongs to which run.

A run folder (``runs/emoji/`` by default) holds ``config.json`` (the settings), ``model.keras``
(the model after the last finished epoch), ``history.csv``, ``logs/`` (TensorBoard), the figures,
``skipped.txt`` and, while a run is unfinished, ``backup/``: Keras' ``BackupAndRestore`` state
(weights, optimizer and the epoch to resume after).

Every file the package writes here is written to a temporary name and renamed into place, so a
kill at any moment leaves either the old file or the new one, never half of one. The backup's
files are Keras' own, written in place: :func:`repair_backup` checks them before a run resumes
and falls back to the previous epoch's copy (``*.bkp``) when the latest is damaged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


from vae_tutorial.config import UsageError

TMP_MARK = ".tmp"  # temporary files are ".<name>.tmp<suffix>" next to their target
BACKUP_WEIGHTS, BACKUP_METADATA = "latest.weights.h5", "training_metadata.json"  # Keras' names in backup/
OUTPUTS = ("config.json", "model.keras", "history.csv", "samples.png", "samples_prior.png", "reconstructions.png",
           "skipped.txt", "metrics.json", "mixture.npz", "backup", "epochs", "logs", "shapes")
CONFIG_KEYS = ("data", "shapes", "latent_dim", "batch_size", "learning_rate", "validation_split", "seed",
               "image_size", "decoder_variance", "beta")
# What a config.json written before these keys existed (before December 2026) means: such run folders exist.
CONFIG_DEFAULTS = {"decoder_variance": "fixed", "beta": 1.0}


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked; the message is one line for the user."""


def replace_atomically(write, path: str | os.PathLike) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``path``: never a half-written file.

    If ``write`` fails or is interrupted, the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name[:-len(path.suffix) or None]}{TMP_MARK}{path.suffix}")
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


def _epoch(metadata: Path) -> int | None:
    """The epoch a backup's metadata names; None when it is missing or does not parse."""
    try:
        return int(json.loads(metadata.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _weights_open(path: Path) -> bool:
    """Whether ``path`` is a whole HDF5 file (HDF5 refuses to open a truncated one)."""
    import h5py  # Keras' own dependency for .weights.h5 files

    try:
        with h5py.File(path, "r"):
            return True
    except (OSError, ValueError):
        return False


def _backup_state(backup: Path, suffix: str = "") -> int | None:
    """The epoch of the backup's weights and metadata with ``suffix`` ("" or ".bkp"), if both are whole."""
    epoch = _epoch(backup / f"{BACKUP_METADATA}{suffix}")
    if epoch is None or not _weights_open(backup / f"{BACKUP_WEIGHTS}{suffix}"):
        return None
    return epoch


def repair_backup(out_dir) -> int:
    """Make ``out_dir/backup`` safe to resume from; return the number of finished epochs it holds.

    A whole latest state is kept. A damaged one (weights that do not open, metadata that does not
    parse) is replaced by the previous epoch's ``.bkp`` files when those are whole, by renames;
    otherwise the backup is removed and the run starts afresh (0).
    """
    backup = Path(out_dir) / "backup"
    if not backup.exists():
        return 0
    latest = _backup_state(backup)
    if latest is not None:
        return latest
    previous = _backup_state(backup, ".bkp")
    if previous is None:
        shutil.rmtree(backup)
        return 0
    for name in (BACKUP_WEIGHTS, BACKUP_METADATA):  # metadata last: it names the epoch
        os.replace(backup / f"{name}.bkp", backup / name)
    return previous


def resume_epoch(out_dir) -> int:
    """How many epochs the interrupted run in ``out_dir`` finished (0 when there is none).

    Read-only: the epoch :func:`repair_backup` would resume after.
    """
    backup = Path(out_dir) / "backup"
    if not backup.exists():
        return 0
    latest = _backup_state(backup)
    return latest if latest is not None else (_backup_state(backup, ".bkp") or 0)


def trim_history(path, epochs: int) -> None:
    """Keep the rows of ``history.csv`` for the first ``epochs`` epochs only (none: remove it)."""
    path = Path(path)
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


def history_epochs(out_dir) -> list[int]:
    """The epoch numbers in ``out_dir/history.csv``, in order ([] when there is none)."""
    try:
        rows = (Path(out_dir) / "history.csv").read_text().splitlines()[1:]
    except OSError:
        return []
    return [int(row.split(",", 1)[0]) for row in rows if row.split(",", 1)[0].isdigit()]


def run_config(data: str, latent_dim: int, batch_size: int, learning_rate: float, validation_split: float,
               seed: int, image_size: int, shapes: int | None, decoder_variance: str, beta: float) -> dict:
    """The settings that identify a run (:data:`CONFIG_KEYS`), as ``config.json`` records them.

    ``data``: ``"emoji"``, ``"shapes"`` or a folder (recorded as its absolute path); ``shapes``: the number of
    shapes drawn, recorded for ``data="shapes"`` only. ``write_config`` adds ``epochs`` and ``finished``.
    """
    from vae_tutorial.data.sources import data_key

    return {"data": data_key(data), "latent_dim": latent_dim, "batch_size": batch_size,
            "learning_rate": learning_rate, "validation_split": validation_split, "seed": seed,
            "image_size": image_size, "shapes": shapes if data == "shapes" else None,
            "decoder_variance": decoder_variance, "beta": beta}


def write_config(out_dir, config: dict) -> None:
    """Write ``out_dir/config.json`` atomically."""
    replace_atomically(lambda p: p.write_text(json.dumps(config, indent=2)), Path(out_dir) / "config.json")


def read_config(out_dir) -> dict | None:
    """The settings in ``out_dir/config.json`` as written (keys it lacks: see :data:`CONFIG_DEFAULTS`), or None
    when there is no such file.

    Raises :class:`RunFolderError` when the file is not valid JSON or does not hold a JSON object.
    """
    config_file = Path(out_dir) / "config.json"
    if not config_file.is_file():
        return None
    try:
        saved = json.loads(config_file.read_text())
    except ValueError:
        raise RunFolderError(f"{config_file} is not valid JSON") from None
    if not isinstance(saved, dict):
        raise RunFolderError(f"{config_file} does not hold a run's settings")
    return saved


def default_out(data: str) -> Path:
    """The run folder ``vae-tutorial train --data DATA`` writes without ``--out``: ``runs/<data's name>``."""
    from vae_tutorial.data.sources import data_name

    return Path("runs") / data_name(data)


def check_writable(out: Path) -> None:
    """Create the folder ``out`` if need be and check that a file can be written in it, else a one-line
    :class:`~vae_tutorial.config.UsageError`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test.tmp"  # a kill here leaves a temporary file that training removes
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to output folder {out}: {exc.strerror or exc}") from None


def clear(out_dir) -> None:
    """Remove every file a run writes in ``out_dir`` (``--overwrite``); other files stay."""
    for name in OUTPUTS:
        target = Path(out_dir) / name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)


def run_state(out_dir, config: dict, epochs: int, keeps_model: bool = True) -> str:
    """``"new"``, ``"resume"`` or ``"finished"`` for the run ``config`` of ``epochs`` epochs in ``out_dir``.

    Raises :class:`RunFolderError` when the folder holds another run, so two runs never mix.
    ``keeps_model=False``: the folder of a worker other than the chief of a multi-worker run, which
    keeps only ``config.json`` once the run has finished (the chief keeps the model).
    """
    out = Path(out_dir)
    try:
        saved = read_config(out)
    except RunFolderError as exc:
        raise RunFolderError(f"{exc}; choose another --out or pass --overwrite") from None
    if saved is None:
        if (out / "model.keras").exists() or (out / "history.csv").exists():
            raise RunFolderError(f"{out} holds files of another run; choose another --out or pass --overwrite")
        return "new"
    saved, config = {**CONFIG_DEFAULTS, **saved}, {**CONFIG_DEFAULTS, **config}
    different = [k for k in CONFIG_KEYS if saved.get(k) != config.get(k)]
    if different:
        k = different[0]
        raise RunFolderError(f"{out} holds a run with different settings ({k}: {saved.get(k)!r}, now "
                             f"{config.get(k)!r}); choose another --out or pass --overwrite")
    done = resume_epoch(out)
    if done > epochs:
        raise RunFolderError(f"{out} holds an interrupted run that already finished {done} epochs, more than "
                             f"--epochs {epochs}; ask for at least {done} epochs, or choose another --out "
                             "or pass --overwrite")
    if done > 0:
        return "resume"
    has_model = (out / "model.keras").exists() or not keeps_model  # a worker other than the chief needs none
    if has_model and saved.get("epochs") == epochs and not saved.get("finished") \
            and history_epochs(out) == list(range(epochs)):
        # killed after the last epoch, before the run was marked finished: it is finished
        saved["finished"] = True
        write_config(out, saved)
    if has_model and saved.get("finished"):
        if saved.get("epochs") == epochs:
            return "finished"
        raise RunFolderError(f"{out} holds a finished run of {saved.get('epochs')} epochs; "
                             "choose another --out or pass --overwrite")
    return "new"
