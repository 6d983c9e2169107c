import numpy as np
import pytest
from PIL import Image

from vae_tutorial.data import DataError, find_images, load_dataset, make_pipeline, preprocess_image, split_paths, \
    visualize_batch


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


def test_pipeline_batches(shapes_folder):
    paths = find_images(shapes_folder, progress=False).paths
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
