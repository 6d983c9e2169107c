"""A data set by name: ``"emoji"``, ``"shapes"`` or a folder of images, as the command line takes it."""

from __future__ import annotations

from pathlib import Path

from vae_tutorial import config

SHAPES_DIR = Path("runs") / "shapes-data"  # where --data shapes is drawn for a model of no run's shapes


def data_key(name: str) -> str:
    """What a run's ``config.json`` records as its data: the name of a built-in set, else the folder's absolute path."""
    return name if name in config.DATA_SETS else str(Path(name).expanduser().resolve())


def data_name(name: str) -> str:
    """A short name for the data: the built-in set's, else the folder's own name (``"data"`` for the root)."""
    return name if name in config.DATA_SETS else Path(name).expanduser().resolve().name or "data"


def resolve_data(name: str, work_dir: Path, seed: int = config.SEED, n_shapes: int = config.SHAPES, log=print):
    """``(image folder, group_of or None, display name)`` for ``"emoji"``, ``"shapes"`` or a path.

    ``"shapes"`` draws ``n_shapes`` images with ``seed`` into ``work_dir/shapes`` (saying so with ``log``);
    ``group_of`` maps a path to its group (the emoji's skin-tone variants share one), None: each image its own.
    """
    from vae_tutorial.data.emoji import emoji_dir, emoji_group_of
    from vae_tutorial.data.shapes import make_shapes

    if name == "emoji":
        return emoji_dir(), emoji_group_of(), "emoji"
    if name == "shapes":
        log(f"drawing {n_shapes} shapes (seed {seed}) into {work_dir / 'shapes'}")
        return make_shapes(work_dir / "shapes", n=n_shapes, seed=seed), None, "shapes"
    folder = Path(name).expanduser()
    return folder, None, data_name(name)
