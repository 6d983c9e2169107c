import json

import numpy as np
import pytest

from conftest import ROOT
from vae_tutorial.data import emoji, shapes
from vae_tutorial.data import DataError, find_images, preprocess_image, split_paths


def test_shapes_are_deterministic_and_carry_factors(tmp_path):
    a = shapes.make_shapes(tmp_path / "a", n=12, seed=7)
    b = shapes.make_shapes(tmp_path / "b", n=12, seed=7)
    c = shapes.make_shapes(tmp_path / "c", n=12, seed=8)
    rows = shapes.read_shape_factors(a)
    assert len(rows) == 12 and set(rows[0]) == {"file", "shape", "scale", "rotation", "x", "y", "hue", "colour"}
    for row in rows:
        np.testing.assert_array_equal(preprocess_image(a / row["file"]), preprocess_image(b / row["file"]))
    assert not np.array_equal(preprocess_image(a / rows[0]["file"]), preprocess_image(c / rows[0]["file"]))
    assert len(find_images(a, progress=False).paths) == 12


def test_the_default_shapes_are_unchanged():
    """The README's measurements use make_shapes' default set: its first factors are pinned here."""
    rows = shapes.shape_factors(3, seed=0)
    assert [(r["shape"], r["scale"], r["rotation"], r["x"], r["y"], r["hue"]) for r in rows] == [
        ("square", 0.2347, 5.95, 0.6663, 0.719, 0.2698),
        ("circle", 0.2292, 195.7, 0.7356, 0.6711, 0.7295),
        ("triangle", 0.1205, 262.68, 0.2538, 0.7757, 0.8574)]


def test_identifiable_shapes_have_identifiable_factors():
    rows = shapes.shape_factors(4000, seed=0, identifiable=True)
    by_shape = {name: [r for r in rows if r["shape"] == name] for name in shapes.SHAPES}
    assert all(len(group) > 800 for group in by_shape.values())
    assert all(r["rotation"] == 0 for r in by_shape["circle"])  # a circle's rotation cannot be seen: none
    for name, period in (("square", 90), ("triangle", 120), ("star", 72)):  # within one symmetry period
        rotations = np.array([r["rotation"] for r in by_shape[name]])
        assert rotations.min() >= 0 and rotations.max() <= period and rotations.max() > 0.95 * period
    scale, x, y = (np.array([r[k] for r in rows]) for k in ("scale", "x", "y"))
    low, high = shapes.IDENTIFIABLE_SCALE
    assert scale.min() >= low and scale.max() <= high
    assert x.min() >= high and x.max() <= 1 - high and y.min() >= high and y.max() <= 1 - high  # inside the image
    assert abs(np.corrcoef(scale, x)[0, 1]) < 0.05 and abs(np.corrcoef(scale, np.abs(x - 0.5))[0, 1]) < 0.05


def test_identifiable_shapes_are_a_folder_of_their_own(tmp_path):
    plain = shapes.make_shapes(tmp_path, n=6, seed=0, image_size=16)
    plain_rows = shapes.read_shape_factors(plain)
    identifiable = shapes.make_shapes(tmp_path, n=6, seed=0, image_size=16, identifiable=True)  # not reused
    rows = shapes.read_shape_factors(identifiable)
    assert rows != plain_rows and all(r["shape"] != "circle" or float(r["rotation"]) == 0 for r in rows)
    assert (tmp_path / "SHAPES").read_text() == "n=6 seed=0 image_size=16\nidentifiable\n"
    assert shapes.make_shapes(tmp_path, n=6, seed=0, image_size=16, identifiable=True) == identifiable


def test_shape_is_drawn_where_its_factors_say():
    img = np.asarray(shapes.draw_shape("square", 0.1, 0, 0.25, 0.75, (255, 0, 0)), np.float32) / 255
    assert img[48, 16, 1] < 0.1  # centre (x=0.25, y=0.75) is red
    assert img[16, 48].min() > 0.99  # far corner is white
    with pytest.raises(ValueError, match="shape"):
        shapes.draw_shape("hexagon", 0.1, 0, 0.5, 0.5, (0, 0, 0))


def test_missing_emoji_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(emoji, "_emoji_package_candidates", lambda: [tmp_path / "nothing"])
    with pytest.raises(DataError, match="npm install emoji-datasource-google@16.0.0"):
        emoji.emoji_dir()


def test_wrong_emoji_version_is_refused(tmp_path, monkeypatch):
    (tmp_path / "package.json").write_text(json.dumps({"version": "15.1.2"}))
    monkeypatch.setattr(emoji, "_emoji_package_candidates", lambda: [tmp_path])
    with pytest.raises(DataError, match="15.1.2, not 16.0.0"):
        emoji.emoji_package_dir()


def test_emoji_set_is_installed_and_split_without_leaking_skin_tones():
    folder = emoji.emoji_dir()  # set-up installs it; a missing data set is a failure
    assert len(list(folder.glob("*.png"))) == 3786
    meta = emoji.emoji_metadata()
    group_of = emoji.emoji_group_of()
    paths = sorted(folder.glob("*.png"))
    train, val = split_paths(paths, 0.1, seed=0, group_of=group_of)
    assert len(train) + len(val) == 3786 and 0.05 < len(val) / 3786 < 0.15
    assert not {group_of(p) for p in train} & {group_of(p) for p in val}
    santa_variants = [name for name, info in meta.items() if info["base"] == "1f385.png"]
    assert len(santa_variants) == 6  # the base and five skin tones share one group
    image = preprocess_image(folder / "1f600.png")
    assert image.shape == (64, 64, 3) and image[0, 0].min() > 0.99  # transparent corner → white


def test_the_emoji_are_found_beside_the_source_tree_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("VAE_TUTORIAL_EMOJI_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no node_modules here or above
    assert emoji.emoji_package_dir() == ROOT / "node_modules" / emoji.EMOJI_PACKAGE
