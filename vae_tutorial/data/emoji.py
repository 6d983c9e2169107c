"""The default data set: the emoji artwork of the npm package ``emoji-datasource-google``, pinned.

Set-up installs it with npm (``scripts/setup.sh``); nothing here downloads anything.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vae_tutorial.data.images import DataError

EMOJI_PACKAGE = "emoji-datasource-google"


EMOJI_VERSION = "16.0.0"


EMOJI_INSTALL = f"npm install {EMOJI_PACKAGE}@{EMOJI_VERSION}"


def _emoji_package_candidates() -> list[Path]:
    candidates = []
    if os.environ.get("VAE_TUTORIAL_EMOJI_DIR"):
        candidates.append(Path(os.environ["VAE_TUTORIAL_EMOJI_DIR"]))
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidates.append(folder / "node_modules" / EMOJI_PACKAGE)
    candidates.append(Path(__file__).resolve().parents[2] / "node_modules" / EMOJI_PACKAGE)
    return candidates


def emoji_package_dir() -> Path:
    """The installed ``emoji-datasource-google`` package folder, checked to be version 16.0.0.

    Looked for in ``$VAE_TUTORIAL_EMOJI_DIR``, then ``node_modules/`` in the current folder
    or any parent, then beside this package's source tree.
    """
    for folder in _emoji_package_candidates():
        manifest = folder / "package.json"
        if manifest.is_file():
            version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
            if version != EMOJI_VERSION:
                raise DataError(
                    f"{folder} holds {EMOJI_PACKAGE} {version}, not {EMOJI_VERSION}; run: {EMOJI_INSTALL}"
                )
            return folder
    raise DataError(f"the emoji data set is not installed; run: {EMOJI_INSTALL}")


def emoji_dir() -> Path:
    """The folder of 64×64 emoji PNGs (``img/google/64/``)."""
    folder = emoji_package_dir() / "img" / "google" / "64"
    if not folder.is_dir():
        raise DataError(f"{folder} is missing; reinstall with: {EMOJI_INSTALL}")
    return folder


def emoji_metadata() -> dict[str, dict]:
    """File name → {"name", "category", "base"} for every emoji image, skin-tone variants included.

    ``base`` is the file name of the base emoji; a variant shares its base's ``base``.
    """
    entries = json.loads((emoji_package_dir() / "emoji.json").read_text(encoding="utf-8"))
    meta = {}
    for entry in entries:
        base = entry["image"]
        info = {"name": (entry.get("name") or entry["short_name"]).title(),
                "category": entry.get("category", ""), "base": base}
        meta[base] = info
        for variant in (entry.get("skin_variations") or {}).values():
            meta[variant["image"]] = dict(info)
    return meta


def emoji_group_of():
    """A function path → base emoji, so skin-tone variants fall on one side of a split."""
    meta = emoji_metadata()
    return lambda path: meta.get(Path(path).name, {}).get("base", Path(path).name)
