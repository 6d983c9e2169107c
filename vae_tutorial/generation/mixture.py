"""A Gaussian mixture fitted to the codes of the training images (Ghosh et al., 2020): sampling
codes from it, and its file format (``mixture.npz``) in a run folder.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from vae_tutorial.evaluation.codes import encode


def sample_mixture(mixture, n: int, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``n`` codes (n, latent_dim) float32 drawn from a fitted ``GaussianMixture``, in random order.

    Drawn by scikit-learn's ``GaussianMixture.sample`` with ``random_state=seed`` (on a copy, so
    ``mixture`` is left as it is); each code's distance from its component's mean is then scaled by
    ``temperature``.
    """
    mixture = copy.copy(mixture)
    mixture.random_state = seed
    z, component = mixture.sample(n)  # scikit-learn returns the codes grouped by component
    z = mixture.means_[component] + temperature * (z - mixture.means_[component])
    return z[np.random.default_rng(seed).permutation(n)].astype("float32")


def fit_code_mixture(model, images, n_components: int = 10, seed: int = 0, covariance_type: str = "full"):
    """A ``sklearn.mixture.GaussianMixture`` fitted to the posterior means of ``images`` (N, S, S, 3).

    A density of where the codes of real images lie (Ghosh et al., 2020): sampling it, instead of
    the prior N(0, I), avoids the regions of the prior that no image's code visits.

    Raises:
        ValueError: for ``n_components`` that is not an int from 1 to the number of images.
    """
    from sklearn.mixture import GaussianMixture

    if not isinstance(n_components, (int, np.integer)) or not 1 <= n_components <= len(images):
        raise ValueError(f"Argument `n_components` must be an int from 1 to the number of images ({len(images)}). "
                         f"Received: n_components={n_components!r}")
    mu, _ = encode(model, images)
    # float64: in float32 the fitted covariances are not exactly symmetric, and sampling them warns
    return GaussianMixture(n_components, covariance_type=covariance_type, random_state=seed).fit(mu.astype("float64"))


# The fitted attributes of a GaussianMixture that sampling and scoring need (scikit-learn's names).
MIXTURE_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


MIXTURE_NUMBERS = {"converged_": bool, "n_iter_": int, "lower_bound_": float}  # name → its Python type


def save_code_mixture(mixture, path, **metadata) -> None:
    """Write a fitted ``GaussianMixture`` to ``path`` (.npz): its arrays and, as JSON, its parameters
    and ``metadata`` (plain values). No pickle: :func:`load_code_mixture` reads it in a safe mode."""
    fitted = {name: kind(getattr(mixture, name)) for name, kind in MIXTURE_NUMBERS.items()}
    info = {"params": mixture.get_params(), "fitted": fitted, "metadata": metadata}
    with open(path, "wb") as f:
        np.savez(f, info=np.array(json.dumps(info)), **{name: getattr(mixture, name) for name in MIXTURE_ARRAYS})


def load_code_mixture(path):
    """``(mixture, metadata)`` from a file written by :func:`save_code_mixture`.

    Raises:
        ValueError: for a file that is not such a mixture (missing arrays, pickled objects, ...).
    """
    from sklearn.mixture import GaussianMixture

    try:
        with np.load(path, allow_pickle=False) as saved:
            info = json.loads(str(saved["info"]))
            mixture = GaussianMixture(**info["params"])
            for name in MIXTURE_ARRAYS:
                setattr(mixture, name, saved[name])
            for name in MIXTURE_NUMBERS:
                setattr(mixture, name, info["fitted"][name])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a saved code mixture: {' '.join(str(exc).split())[:200]}") from None
    mixture.n_features_in_ = mixture.means_.shape[1]
    return mixture, info["metadata"]
