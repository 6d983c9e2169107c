import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from conftest import cli_here, run_cli
from vae_tutorial import data
from vae_tutorial.data import cache as image_cache, folders
from vae_tutorial.data import (DataError, find_images, load_dataset, make_pipeline, preprocess_image,
                               read_images, split_paths)
from vae_tutorial.plots import visualize_batch


def test_preprocess_shape_range_and_dtype(messy_folder):
    folder, good, _ = messy_folder
    for name in good:
        image = preprocess_image(folder / name)
        assert image.shape == (64, 64, 3) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0


def test_modes_convert_correctly(messy_folder):
    folder, _, _ = messy_folder
    np.testing.assert_allclose(preprocess_image(folder / "rgba.png"), 1.0)  # transparent → white
    np.testing.assert_allclose(preprocess_image(folder / "palette.gif"), 1.0)  # transparent index → white
    np.testing.assert_allclose(preprocess_image(folder / "grey.png"), 128 / 255, atol=1e-6)
    # 16-bit 32896 = 128 * 257: scaled, not clipped to white
    np.testing.assert_allclose(preprocess_image(folder / "sixteen_bit.png"), 128 / 255, atol=1 / 255)
    cyan = preprocess_image(folder / "cmyk.jpg").mean(axis=(0, 1))
    assert cyan[0] < 0.1 and cyan[1] > 0.9 and cyan[2] > 0.9, cyan


def test_non_square_is_centre_cropped(messy_folder):
    folder, _, _ = messy_folder
    image = preprocess_image(folder / "rgb.png")  # 120 wide, red left half
    assert image[:, :28, 0].mean() > 0.95 and image[:, 36:, 0].mean() < 0.05


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (64, 32), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 32, 32))  # white left half as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    image = preprocess_image(tmp_path / "rotated.jpg")
    # displayed upright the image is 32 wide and 64 tall with white on top
    assert image[:24].mean() > 0.9 and image[40:].mean() < 0.1


def test_find_images_keeps_exactly_the_good_ones(messy_folder):
    folder, good, bad = messy_folder
    found = find_images(folder, progress=False)
    assert {p.relative_to(folder).as_posix() for p in found.paths} == good
    skipped = {p.relative_to(folder).as_posix(): reason for p, reason in found.skipped}
    assert set(skipped) == bad
    assert skipped["zero.jpg"] == "empty file (0 bytes)"
    assert skipped["text.jpg"] == "not an image Pillow can read"
    assert skipped["notes.txt"].startswith("not an image file type")
    assert skipped["truncated.png"].startswith("corrupt")
    assert "skipped" in found.report()


def test_missing_and_empty_folders_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        find_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no usable images"):
        find_images(tmp_path / "empty")


def test_split_keeps_groups_together():
    paths = [f"e{i}_{v}.png" for i in range(20) for v in range(3)]
    train, val = split_paths(paths, 0.25, seed=1, group_of=lambda p: p.split("_")[0])
    assert len(val) == 15 and len(train) == 45
    assert not {p.split("_")[0] for p in train} & {p.split("_")[0] for p in val}
    assert split_paths(paths, 0.25, seed=1, group_of=lambda p: p.split("_")[0]) == (train, val)


@pytest.mark.parametrize("cached", [True, False], ids=["from the cache", "decoded by the pipeline"])
def test_pipeline_batches(shapes_folder, cached):
    folder = find_images(shapes_folder, progress=False)
    paths = folder.paths if cached else [os.path.join(p.parent, ".", p.name) for p in folder.paths]  # not as cached
    assert (image_cache.find_store(paths, 64) is not None) == cached
    ds = make_pipeline(paths, batch_size=64, seed=0)
    batches = [b.numpy() for b in ds]
    assert [len(b) for b in batches] == [64, 64, 32]
    assert batches[0].dtype == np.float32 and batches[0].shape[1:] == (64, 64, 3)
    assert 0.0 <= min(b.min() for b in batches) and max(b.max() for b in batches) <= 1.0
    again = [b.numpy() for b in ds]  # reshuffled each epoch, same images
    assert not np.array_equal(batches[0], again[0])
    np.testing.assert_allclose(np.sort(np.concatenate(batches).sum(axis=(1, 2, 3))),
                               np.sort(np.concatenate(again).sum(axis=(1, 2, 3))), rtol=1e-6)


def test_load_dataset_with_validation(shapes_folder):
    train, val = load_dataset(shapes_folder, batch_size=32, validation_split=0.25, progress=False)
    assert sum(len(b) for b in train) == 120 and sum(len(b) for b in val) == 40
    first, second = next(iter(val)).numpy(), next(iter(val)).numpy()
    np.testing.assert_array_equal(first, second)  # validation is not shuffled


def test_visualize_batch_returns_a_figure():
    images = np.random.default_rng(0).random((7, 64, 64, 3))
    images[0, 0, 0] = [-0.5, 2.0, 0.5]  # out of range: clipped to [0, 1]
    fig = visualize_batch(images, ncols=4, title="t", row_labels=["a", "b", "unused"])
    assert fig._suptitle.get_text() == "t"
    (ax,) = fig.axes
    assert [label.get_text() for label in ax.get_yticklabels()] == ["a", "b"]
    assert list(ax.get_yticks()) == [31.5, 97.5]  # the middle of each row of pixels
    grid = ax.get_images()[0].get_array()
    assert grid.shape == (2 * 64 + 2, 4 * 64 + 3 * 2, 3)  # 2 rows, 4 columns, 2 white pixels between
    np.testing.assert_array_equal(grid[66:130, 66:130], images[5].astype(np.float32))  # row 1, column 1
    np.testing.assert_array_equal(grid[0, 0], [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(grid[64:66], 1.0)  # the white line between the rows
    np.testing.assert_array_equal(grid[:, 64:66], 1.0)  # and between the first two columns
    np.testing.assert_array_equal(grid[66:, 198:], 1.0)  # the empty last cell
    one_label = visualize_batch(images, ncols=4, row_labels=["only"]).axes[0]
    assert [label.get_text() for label in one_label.get_yticklabels()] == ["only"]
    with pytest.raises(ValueError, match="no images"):
        visualize_batch(images, n=0)
    with pytest.raises(ValueError, match="shape"):
        visualize_batch(np.zeros((4, 64, 64)))


# ---------------------------------------------------------------------------------------
# The image cache: one decode per file, reused, rebuilt when it cannot be trusted
# ---------------------------------------------------------------------------------------

ROW = 64 * 64 * 3  # bytes of one decoded image


@pytest.fixture
def decoded(monkeypatch):
    """The paths ``decode_image`` is called on, in every thread, from now on."""
    calls = []
    original = data.decode_image

    def counting(path, image_size=64):
        calls.append(Path(path))
        return original(path, image_size)

    monkeypatch.setattr(folders, "decode_image", counting)
    return calls


def colour_folder(root: Path, n: int = 8) -> Path:
    """``n`` PNGs of different colours and sizes (one not square)."""
    root.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (40 + 7 * i, 40), (30 * i, 255 - 30 * i, 100)).save(root / f"{i:03d}.png")
    return root


def test_each_file_is_decoded_once_and_a_second_run_decodes_none(messy_folder, tmp_path, decoded):
    folder, good, bad = messy_folder
    cache = tmp_path / "cache"
    found = find_images(folder, progress=False, cache_dir=cache)
    images = np.concatenate([b.numpy() for b in make_pipeline(found.paths, batch_size=4, shuffle=False)])
    candidates = len(good) + len(bad) - 1  # notes.txt is skipped by its name, never decoded
    assert len(decoded) == len(set(decoded)) == candidates  # the pipeline decoded nothing more

    decoded.clear()
    again = find_images(folder, progress=False, cache_dir=cache)
    assert decoded == []
    assert again.paths == found.paths and again.skipped == found.skipped  # each skip with its reason
    assert again.images is found.images  # read once per process: no second copy in memory
    train, val = load_dataset(folder, batch_size=4, validation_split=0.25, progress=False, cache_dir=cache)
    assert sum(len(b) for b in train) + sum(len(b) for b in val) == len(good)
    assert decoded == []
    np.testing.assert_array_equal(images, np.stack([preprocess_image(p) for p in found.paths]))


def test_decoded_images_are_kept_as_uint8(tmp_path):
    folder = colour_folder(tmp_path / "c")
    found = find_images(folder, progress=False, cache_dir=tmp_path / "cache")
    rows = found.images.read(range(len(found.paths)))
    assert found.images.in_memory and rows.dtype == np.uint8 and rows.shape == (8, 64, 64, 3)
    assert found.images.location.stat().st_size == 8 * ROW
    np.testing.assert_array_equal(rows.astype(np.float32) / 255, np.stack([preprocess_image(p) for p in found.paths]))
    np.testing.assert_array_equal(read_images(found.paths[2:4]), rows[2:4].astype(np.float32) / 255)


def test_beyond_the_memory_budget_images_are_read_from_disk(tmp_path, decoded):
    folder = colour_folder(tmp_path / "c")
    cache = tmp_path / "cache"
    expected = np.stack([preprocess_image(p) for p in sorted(folder.iterdir())])
    for run in ("built", "reused"):
        decoded.clear()
        found = find_images(folder, progress=False, cache_dir=cache, memory_budget=8 * ROW - 1)
        assert not found.images.in_memory
        assert len(decoded) == (8 if run == "built" else 0)
        batches = [b.numpy() for b in make_pipeline(found.paths, batch_size=3, shuffle=False)]
        assert [len(b) for b in batches] == [3, 3, 2]
        np.testing.assert_array_equal(np.concatenate(batches), expected)
        shuffled = np.concatenate([b.numpy() for b in make_pipeline(found.paths, batch_size=3, seed=1)])
        assert sorted(shuffled.sum(axis=(1, 2, 3))) == sorted(expected.sum(axis=(1, 2, 3)))
    held = find_images(folder, progress=False, cache_dir=cache, memory_budget=8 * ROW)
    assert held.images.in_memory and len(decoded) == 0


def change_folder(folder: Path, change: str) -> None:
    later = time.time_ns() + 5_000_000_000  # a modification time certainly different from the first one
    if change == "rewritten":
        Image.new("RGB", (47, 40), (0, 0, 255)).save(folder / "001.png")  # same name and size, new colour
        os.utime(folder / "001.png", ns=(later, later))
    elif change == "touched":
        os.utime(folder / "002.png", ns=(later, later))
    elif change == "added":
        Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "new.png")
    elif change == "removed":
        (folder / "003.png").unlink()
    elif change == "permissions changed":  # its change time moves: it may have become readable
        (folder / "004.png").chmod(0o600)


@pytest.mark.parametrize("change", ["rewritten", "touched", "added", "removed", "permissions changed"])
def test_a_changed_folder_is_decoded_again(tmp_path, decoded, change):
    folder = colour_folder(tmp_path / "c")
    cache = tmp_path / "cache"
    first = find_images(folder, progress=False, cache_dir=cache)
    del first
    change_folder(folder, change)
    decoded.clear()
    second = find_images(folder, progress=False, cache_dir=cache)
    files = sorted(folder.iterdir())
    assert sorted(decoded) == files
    assert second.paths == files and second.skipped == []
    np.testing.assert_array_equal(read_images(second.paths), np.stack([preprocess_image(p) for p in files]))
    decoded.clear()
    find_images(folder, progress=False, cache_dir=cache)
    assert decoded == []


def damage_cache(folder: Path, damage: str) -> None:
    images, manifest = folder / image_cache.DATA, folder / image_cache.MANIFEST
    if damage == "a byte flipped":
        content = bytearray(images.read_bytes())
        content[len(content) // 2] ^= 0x10
        images.write_bytes(bytes(content))
    elif damage == "cut short":
        images.write_bytes(images.read_bytes()[:-100])
    elif damage == "images missing":
        images.unlink()
    elif damage == "manifest garbled":
        manifest.write_text(manifest.read_text()[:40])
    elif damage == "manifest missing":  # as a kill after the rows were renamed into place leaves it
        manifest.unlink()


@pytest.mark.parametrize("budget", [None, 0], ids=["in memory", "on disk"])
@pytest.mark.parametrize("damage", ["a byte flipped", "cut short", "images missing", "manifest garbled",
                                    "manifest missing"])
def test_a_damaged_cache_is_rebuilt(tmp_path, decoded, damage, budget):
    folder = colour_folder(tmp_path / "c")
    cache = tmp_path / "cache"
    first = find_images(folder, progress=False, cache_dir=cache, memory_budget=budget)
    expected = first.images.read(range(8))
    damage_cache(first.images.location.parent, damage)
    del first
    decoded.clear()
    second = find_images(folder, progress=False, cache_dir=cache, memory_budget=budget)
    assert len(decoded) == 8
    np.testing.assert_array_equal(second.images.read(range(8)), expected)
    decoded.clear()
    find_images(folder, progress=False, cache_dir=cache, memory_budget=budget)
    assert decoded == []


def test_an_interrupted_decoding_leaves_nothing_to_trust(tmp_path, monkeypatch, decoded):
    folder = colour_folder(tmp_path / "c")
    cache = tmp_path / "cache"
    find_images(folder, progress=False, cache_dir=cache)  # an older cache of the folder...
    (folder / "000.png").unlink()  # ...which no longer matches it
    original = folders._read_image

    def ctrl_c_at_the_fourth(path, image_size):
        if len(decoded) == 3:
            raise KeyboardInterrupt
        return original(path, image_size)

    monkeypatch.setattr(folders, "_read_image", ctrl_c_at_the_fourth)
    decoded.clear()
    with pytest.raises(KeyboardInterrupt):
        find_images(folder, progress=False, cache_dir=cache, workers=1)
    (entry,) = cache.iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["lock"]  # the old cache gone, nothing half-written
    monkeypatch.setattr(folders, "_read_image", original)
    decoded.clear()
    find_images(folder, progress=False, cache_dir=cache)
    assert len(decoded) == 7


KILLED_WHILE_DECODING = """
import os, signal, sys
from vae_tutorial import data
from vae_tutorial.data import cache as image_cache, folders
image_cache._CHUNK = 2 * 64 * 64 * 3  # rows reach the file two at a time
original, calls = folders.decode_image, []
def dying(path, image_size=64):
    calls.append(path)
    if len(calls) == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(path, image_size)
folders.decode_image = dying
data.find_images(sys.argv[1], progress=False, cache_dir=sys.argv[2], workers=1)
"""


def test_a_decoding_killed_outright_is_not_trusted(tmp_path, decoded):
    folder = colour_folder(tmp_path / "c")
    cache = tmp_path / "cache"
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_DECODING, str(folder), str(cache)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (entry,) = cache.iterdir()
    (left,) = entry.glob("*.tmp")
    assert left.stat().st_size > 0 and not (entry / image_cache.MANIFEST).exists()
    found = find_images(folder, progress=False, cache_dir=cache)
    assert len(decoded) == 8
    assert list(entry.glob("*.tmp")) == []  # the leftover is removed
    np.testing.assert_array_equal(found.images.read(range(8)), np.stack([data.decode_image(p) for p in found.paths]))


def test_two_runs_at_once_decode_the_folder_once(tmp_path, monkeypatch, decoded):
    folder = colour_folder(tmp_path / "c")
    original = folders._read_image

    def slow(path, image_size):
        time.sleep(0.05)
        return original(path, image_size)

    monkeypatch.setattr(folders, "_read_image", slow)
    found = []
    runs = [threading.Thread(target=lambda: found.append(find_images(folder, progress=False, workers=2,
                                                                     cache_dir=tmp_path / "cache")))
            for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert len(decoded) == 8 and len(found) == 2  # one built the cache while the other waited, then read it


def test_too_little_disk_space_is_refused_beyond_the_budget(tmp_path, monkeypatch):
    folder = colour_folder(tmp_path / "c")
    monkeypatch.setattr(image_cache.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    with pytest.raises(DataError, match=r"^not enough disk space for the image cache: it needs 96\.0 KiB in .*, "
                       r"which has 1000 bytes free; choose another cache folder \(--cache-dir"):
        find_images(folder, progress=False, cache_dir=tmp_path / "cache", memory_budget=0)
    notes = []
    found = find_images(folder, progress=False, cache_dir=tmp_path / "cache", log=notes.append)
    assert found.images.in_memory and found.images.location is None
    assert "not enough disk space" in notes[-1] and "held in memory only" in notes[-1]
    assert len(read_images(found.paths)) == 8


def test_a_cache_folder_that_cannot_be_written(tmp_path):
    folder = colour_folder(tmp_path / "c")
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with pytest.warns(UserWarning, match="cannot write the image cache in .*held in memory only"):
        found = find_images(folder, progress=False, cache_dir=not_a_folder)
    assert found.images.in_memory and len(found.paths) == 8
    with pytest.raises(DataError, match="cannot write the image cache"):
        find_images(folder, progress=False, cache_dir=not_a_folder, memory_budget=100)


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv(image_cache.CACHE_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert image_cache.default_cache_dir() == tmp_path / "home" / ".cache" / "vae-tutorial"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert image_cache.default_cache_dir() == tmp_path / "xdg" / "vae-tutorial"
    monkeypatch.setenv(image_cache.CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert image_cache.default_cache_dir() == tmp_path / "mine"
    find_images(colour_folder(tmp_path / "c"), progress=False)
    assert len(list((tmp_path / "mine").glob("*/manifest.json"))) == 1


@pytest.mark.slow  # three processes and trained_run's: only a fresh process shows the cache on disk is reused
def test_the_command_line_reports_and_reuses_the_cache(trained_run, tmp_path):
    out, _ = trained_run
    folder = colour_folder(tmp_path / "c")
    reconstruct = ["reconstruct", "--model", out / "model.keras", "--data", folder, "--n", "4",
                   "--out", tmp_path / "r.png", "--cache-dir", tmp_path / "cache"]
    first = run_cli(*reconstruct)
    assert first.returncode == 0, first.stderr[-2000:]
    (entry,) = (tmp_path / "cache").iterdir()
    assert f"decoding 8 files into a cache of up to 96.0 KiB in {entry} (held in memory)" in first.stdout
    second = run_cli(*reconstruct)
    assert f"reusing the decoded images cached in {entry} (8 images, 96.0 KiB, held in memory)" in second.stdout
    assert "decoding" not in second.stdout
    third = run_cli(*reconstruct, "--rebuild-cache")
    assert "decoding 8 files" in third.stdout


def test_the_cache_options_errors_are_one_line_exit_2(tmp_path, capsys):
    folder = colour_folder(tmp_path / "c")
    (tmp_path / "r.png").write_bytes(b"a file where the cache folder should be")
    refused = cli_here(capsys, "train", "--data", folder, "--epochs", "1", "--out", tmp_path / "o",
                       "--cache-memory", "0", "--cache-dir", tmp_path / "r.png")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr[-2000:]
    assert "error: cannot write the image cache" in refused.stderr and "--cache-dir" in refused.stderr
    bad = cli_here(capsys, "train", "--cache-memory", "lots")
    assert bad.returncode == 2 and "--cache-memory: expected a size such as 2G, 512M or 0, got 'lots'" in bad.stderr
