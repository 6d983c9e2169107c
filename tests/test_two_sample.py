"""The classifier two-sample test: about 50 % for one distribution, about 100 % for two clearly different."""

import numpy as np
import pytest

from vae_tutorial.evaluation import classifier_two_sample_test, image_features


def blobs(n, rng, brightness=1.0):
    """n 16×16 RGB images: a square of the given brightness at a random place on black."""
    images = np.zeros((n, 16, 16, 3), np.float32)
    for image, (row, col) in zip(images, rng.integers(2, 10, (n, 2))):
        image[row:row + 4, col:col + 4] = brightness
    return images


def test_features_are_block_means():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    features = image_features(images, size=2)
    assert features.shape == (2, 12)
    assert features[0, 0] == pytest.approx(images[0, :2, :2, 0].mean())
    with pytest.raises(ValueError, match="divides 4"):
        image_features(images, size=3)


@pytest.mark.parametrize("classifier", ["logistic", "mlp"])
def test_two_samples_of_one_distribution_are_told_apart_at_chance(classifier):
    rng = np.random.default_rng(0)
    result = classifier_two_sample_test(blobs(300, rng), blobs(300, rng), classifier=classifier,
                                        size=8)
    assert abs(result["accuracy"] - 0.5) < 0.07 and result["n"] == 600 and result["p_value"] > 0.01


@pytest.mark.parametrize("classifier", ["logistic", "mlp"])
def test_clearly_different_samples_are_told_apart(classifier):
    rng = np.random.default_rng(1)
    result = classifier_two_sample_test(blobs(300, rng), blobs(300, rng, brightness=0.7), classifier=classifier,
                                        size=16)
    assert result["accuracy"] > 0.95 and result["p_value"] < 1e-6
    assert result["standard_error"] == pytest.approx(np.sqrt(result["accuracy"] * (1 - result["accuracy"]) / 600))


def test_arguments_are_checked():
    rng = np.random.default_rng(2)
    with pytest.raises(ValueError, match="same shape"):
        classifier_two_sample_test(blobs(10, rng), blobs(12, rng))
    with pytest.raises(ValueError, match="at least folds=5"):
        classifier_two_sample_test(blobs(3, rng), blobs(3, rng))
    with pytest.raises(ValueError, match="classifier"):
        classifier_two_sample_test(blobs(10, rng), blobs(10, rng), classifier="forest", size=8)


def test_groups_keep_near_copies_in_one_fold():
    """Real images in pairs of exact copies: without groups the classifier recognises a copy's twin."""
    rng = np.random.default_rng(3)
    half = rng.random((150, 8, 8, 3)).astype(np.float32)
    real = np.concatenate([half, half])  # every real image twice
    generated = rng.random((300, 8, 8, 3)).astype(np.float32)  # the same distribution, no copies
    leaky = classifier_two_sample_test(real, generated, classifier="mlp", size=8)
    grouped = classifier_two_sample_test(real, generated, classifier="mlp", size=8, groups=np.tile(np.arange(150), 2))
    assert leaky["accuracy"] > 0.6 and abs(grouped["accuracy"] - 0.5) < 0.08
    swapped = classifier_two_sample_test(generated, real, classifier="mlp", size=8,
                                         generated_groups=np.tile(np.arange(150), 2))
    assert abs(swapped["accuracy"] - 0.5) < 0.08
    with pytest.raises(ValueError, match="`groups` must have one label per image"):
        classifier_two_sample_test(real, generated, groups=[0, 1])
