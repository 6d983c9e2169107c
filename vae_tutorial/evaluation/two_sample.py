"""A classifier two-sample test: can a classifier tell generated images from real ones?

Lopez-Paz and Oquab ("Revisiting Classifier Two-Sample Tests", 2017): label the real images 0
and the generated ones 1, train a classifier on some of them and measure its accuracy on the
others. If both sets come from the same distribution no classifier does better than chance, so
the accuracy is near 50 %; the further above 50 %, the easier the generated images are to tell
apart. Under that null hypothesis the number of correct answers out of n is Binomial(n, ½),
which gives a p-value.

Here every image is classified once, by a classifier trained on the other folds of a stratified
k-fold split (scikit-learn's ``cross_val_predict``), so all images are used for testing. Real
images that are near-copies of each other (the skin-tone variants of one emoji) can be given one
group each: a group stays in one fold, so that the classifier cannot recognise an image by its
sibling in the training folds. The classifier sees the images shrunk to ``size`` × ``size``
pixels (block means), standardised: a logistic regression by default, or a small multilayer
perceptron.
"""

from __future__ import annotations

import numpy as np

CLASSIFIERS = ("logistic", "mlp")


def image_features(images, size: int = 16) -> np.ndarray:
    """Images (N, S, S, C) → (N, size · size · C): the mean of each (S/size)² block of pixels.

    Raises:
        ValueError: when ``size`` does not divide S.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[1] != images.shape[2]:
        raise ValueError(f"Argument `images` must have shape (N, S, S, C). Received: images.shape={images.shape}")
    n, side, _, channels = images.shape
    if not isinstance(size, (int, np.integer)) or size < 1 or side % size:
        raise ValueError(f"Argument `size` must be a positive int that divides {side}. Received: size={size!r}")
    block = side // size
    return images.reshape(n, size, block, size, block, channels).mean(axis=(2, 4)).reshape(n, -1)


def make_classifier(kind: str = "logistic", seed: int = 0):
    """The scikit-learn pipeline the test trains: standardised features, then ``kind``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    if kind == "mlp":
        return make_pipeline(StandardScaler(), MLPClassifier((64,), alpha=1e-2, max_iter=500, early_stopping=True,
                                                             random_state=seed))
    raise ValueError(f"Argument `classifier` must be one of {CLASSIFIERS}. Received: classifier={kind!r}")


def classifier_two_sample_test(real, generated, classifier: str = "logistic", size: int = 16, folds: int = 5,
                               seed: int = 0, groups=None, generated_groups=None) -> dict:
    """How well a classifier tells ``generated`` images from ``real`` ones (same count, (N, S, S, C) each).

    ``groups``, ``generated_groups``: optional labels (N,) of the real and of the generated images;
    images of one set with the same label are in the same fold. Without labels, each image is its
    own group.

    Returns:
        A dict: ``accuracy`` (fraction of images classified correctly by a classifier that did not
        train on them; 0.5 is chance, lower is better for the generator), ``standard_error`` (of the
        accuracy, √(a(1 - a)/n)), ``p_value`` (one-sided binomial test of accuracy > ½, treating the
        n answers as independent), ``n`` (images classified: twice the count of each set).

    Raises:
        ValueError: for sets of different sizes, fewer than ``folds`` images each, or different shapes.
    """
    from scipy.stats import binomtest
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    real, generated = np.asarray(real), np.asarray(generated)
    if real.shape != generated.shape:
        raise ValueError("Arguments `real` and `generated` must have the same shape (the same number of images). "
                         f"Received: {real.shape} and {generated.shape}")
    if len(real) < folds:
        raise ValueError(f"Arguments `real` and `generated` must hold at least folds={folds} images each. "
                         f"Received: {len(real)}")
    group_ids = []
    for name, given in (("groups", groups), ("generated_groups", generated_groups)):
        given = np.arange(len(real)) if given is None else np.asarray(given, str)
        if len(given) != len(real):
            raise ValueError(f"Argument `{name}` must have one label per image ({len(real)}). "
                             f"Received: {len(given)} labels")
        group_ids.append(len(real) * len(group_ids) + np.unique(given, return_inverse=True)[1].reshape(-1))
    features = image_features(np.concatenate([real, generated]), size)
    labels = np.repeat([0, 1], len(real))
    group_ids = np.concatenate(group_ids)  # the two sets never share a group
    split = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(make_classifier(classifier, seed), features, labels, groups=group_ids, cv=split)
    correct = int(np.sum(predicted == labels))
    n = len(labels)
    accuracy = correct / n
    return {"accuracy": accuracy, "standard_error": float(np.sqrt(accuracy * (1 - accuracy) / n)),
            "p_value": float(binomtest(correct, n, 0.5, alternative="greater").pvalue), "n": n}
