"""A worker's share of the images and its pipeline: the same number of images on every worker."""

import pytest
import tensorflow as tf

from vae_tutorial.training.distribute import per_worker_pipeline, worker_share


def recording_pipeline(seen):
    def make_pipeline(paths, batch_size, drop_remainder, **kwargs):
        seen.append((list(paths), batch_size))
        return tf.data.Dataset.from_tensor_slices(tf.zeros((len(paths), 1))).batch(batch_size, drop_remainder)

    return make_pipeline


def test_worker_shares_are_disjoint_and_cover_every_path():
    paths = [f"img{i}.png" for i in range(11)]
    shares = [worker_share(paths, index, 3) for index in range(3)]
    assert shares[1] == ["img1.png", "img4.png", "img7.png", "img10.png"]
    assert sorted(p for share in shares for p in share) == sorted(paths)


def test_a_share_is_cut_or_repeated_to_the_images_per_worker():
    seen = []
    strategy = tf.distribute.get_strategy()
    per_worker_pipeline(strategy, ["a", "b", "c", "d", "e"], 3, 2, recording_pipeline(seen))
    per_worker_pipeline(strategy, ["a", "b", "c"], 7, 4, recording_pipeline(seen))  # 4 of 7 files did not decode
    assert seen == [(["a", "b", "c"], 2), (["a", "b", "c", "a", "b", "c", "a"], 4)]


def test_an_empty_share_is_refused():
    with pytest.raises(ValueError, match="share"):
        per_worker_pipeline(tf.distribute.get_strategy(), [], 3, 2, recording_pipeline([]))
