"""Using a trained VAE: generation, reconstruction and interpolation.

Generation and reconstruction are different things, and every figure says which:

- **generation** decodes samples z ~ N(0, I) from the *prior*: new images that no input
  produced; or samples of a Gaussian mixture fitted to the codes of the training images
  (:func:`fit_code_mixture`; Ghosh et al., 2020), which stay where the decoder was trained;
- **reconstruction** encodes an existing image and decodes its code: a copy through the
  bottleneck. We decode the posterior mean ``mu`` so the result is deterministic.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from vae_tutorial.data import visualize_batch
from vae_tutorial.prior import fixed_latents

GENERATED_TITLE = "Generated: decoded from random z ~ N(0, I)"
MIXTURE_TITLE = "Generated: decoded from z sampled from a Gaussian mixture fitted to the training codes"
RECONSTRUCTED_TITLE = "Reconstructions: originals (top) decoded from their encodings (below)"


def _decoder(model_or_decoder):
    return getattr(model_or_decoder, "decoder", model_or_decoder)


def generate(model_or_decoder, n: int = 16, seed: int = 0, temperature: float = 1.0, mixture=None) -> np.ndarray:
    """``n`` new images (n, 64, 64, 3) decoded from z ~ N(0, temperature² I), or from ``mixture``.

    ``mixture``: a fitted ``sklearn.mixture.GaussianMixture`` over the latent space (see
    :func:`fit_code_mixture`); each z is then drawn from it, its distance from the mean of its
    component scaled by ``temperature``. The same seed gives the same images either way.
    """
    if n < 1:
        raise ValueError(f"n must be a positive integer, got {n}")
    decoder = _decoder(model_or_decoder)
    latent_dim = decoder.input_shape[-1]
    if mixture is None:
        z = fixed_latents(n, latent_dim, seed, temperature)
    else:
        z = sample_mixture(mixture, n, seed, temperature)
        if z.shape[1] != latent_dim:
            raise ValueError(f"Argument `mixture` must be fitted to codes of size {latent_dim}. "
                             f"Received: a mixture over {z.shape[1]} dimensions")
    return np.asarray(decoder.predict(z, verbose=0))


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


def encode(model, images, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, log_var)`` of the encoder for ``images``, as NumPy arrays."""
    mu, log_var = [], []
    for start in range(0, len(images), batch_size):
        m, lv = model.encode(np.asarray(images[start:start + batch_size], "float32"))
        mu.append(np.asarray(m))
        log_var.append(np.asarray(lv))
    return np.concatenate(mu), np.concatenate(log_var)


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


def reconstruct(model, images) -> np.ndarray:
    """Encode ``images`` and decode the posterior means: (n, 64, 64, 3)."""
    mu, _ = encode(model, images)
    return np.asarray(model.decoder.predict(mu, verbose=0))


def interpolate(model, image_a, image_b, steps: int = 8) -> np.ndarray:
    """Decode ``steps`` points on the straight line between the encodings of two images."""
    mu, _ = encode(model, np.stack([image_a, image_b]))
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    return np.asarray(model.decoder.predict((1 - t) * mu[0] + t * mu[1], verbose=0))


def plot_generated(images, title: str = GENERATED_TITLE, ncols: int = 8):
    """A labelled grid of generated images."""
    return visualize_batch(images, ncols=ncols, title=title)


def plot_reconstructions(originals, reconstructions, title: str = RECONSTRUCTED_TITLE, ncols: int = 8):
    """Originals above their reconstructions, in labelled row pairs."""
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    rows, labels = [], []
    for start in range(0, len(originals), ncols):
        chunk = slice(start, start + ncols)
        pad = ncols - len(originals[chunk])
        for block, label in ((originals[chunk], "Original"), (reconstructions[chunk], "Reconstruction")):
            rows.append(np.concatenate([block, np.ones((pad, *block.shape[1:]), block.dtype)]) if pad else block)
            labels.append(label)
    return visualize_batch(np.concatenate(rows), ncols=ncols, title=title, row_labels=labels)
