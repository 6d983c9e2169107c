"""The directions in which the codes of real images vary: principal components of the posterior means.

A VAE's KL term spreads the information over many latent dimensions, each carrying a
little, so moving one dimension of z away from 0 barely changes the decoded picture. The
codes of real images still vary a lot, only along directions that mix many dimensions.
Principal component analysis (scikit-learn's ``PCA``) of the posterior means ``mu`` of a
data set finds them: the mean code ``m``, unit directions ``v_i`` and the standard
deviation ``sd_i`` of the codes along each. A point in *slider units* ``s`` is the code

    z = m + Σ_i s_i · sd_i · v_i,

so ``s_i = ±3`` is three standard deviations of the data along direction ``i``. The
explorer (``vae_tutorial.course.widgets``) and the traversal figure of notebook 6 both use these directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from vae_tutorial.evaluation.codes import encode


def latent_traversal(model_or_decoder, dimension: int, values, z=None) -> np.ndarray:
    """Decode ``z`` (default 0, the prior's mode) with ``z[dimension]`` set to each of ``values``."""
    decoder = getattr(model_or_decoder, "decoder", model_or_decoder)
    latent_dim = decoder.input_shape[-1]
    if not 0 <= dimension < latent_dim:
        raise ValueError(f"dimension must be in [0, {latent_dim}), got {dimension}")
    base = np.zeros(latent_dim, "float32") if z is None else np.asarray(z, "float32")
    batch = np.repeat(base[None], len(values), axis=0)
    batch[:, dimension] = values
    return np.asarray(decoder(batch, training=False))


@dataclass(frozen=True)
class LatentDirections:
    """Principal directions of a set of codes.

    Attributes:
        mean: the mean code, shape (latent_dim,).
        directions: unit vectors ``v_i``, shape (n, latent_dim), the direction of largest variance first.
        sds: standard deviation of the codes along each direction, shape (n,), largest first.
        explained_variance_ratio: the share of the codes' total variance along each direction, shape (n,).
    """

    mean: np.ndarray
    directions: np.ndarray
    sds: np.ndarray
    explained_variance_ratio: np.ndarray

    def __len__(self) -> int:
        return len(self.directions)

    def point(self, s) -> np.ndarray:
        """The code ``m + Σ s_i · sd_i · v_i`` for slider values ``s``: shape (n,) → (latent_dim,),
        or (k, n) → (k, latent_dim)."""
        s = np.asarray(s, "float32")
        if s.shape[-1] != len(self):
            raise ValueError(f"Argument `s` must have {len(self)} values in its last axis (one per direction). "
                             f"Received: s.shape={s.shape}")
        return (self.mean + (s * self.sds) @ self.directions).astype("float32")

    def coordinates(self, z) -> np.ndarray:
        """Where code(s) ``z`` lie along the directions, in standard deviations: (latent_dim,) → (n,),
        or (k, latent_dim) → (k, n). A direction along which the codes do not vary (sd 0) gives 0."""
        projection = (np.asarray(z, "float32") - self.mean) @ self.directions.T
        return np.divide(projection, self.sds, out=np.zeros_like(projection), where=self.sds > 0)


def _check_images(images) -> np.ndarray:
    images = np.asarray(images, "float32")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) < 2:
        raise ValueError("Argument `images` must be an array (N, height, width, 3) of at least 2 images in [0, 1]. "
                         f"Received: images.shape={images.shape}")
    return images


def directions_of_codes(mu, n: int = 6) -> LatentDirections:
    """Principal directions of codes ``mu`` (N, latent_dim), N ≥ 2.

    Returns at most ``n`` directions: no more than the codes have (min(N - 1, latent_dim)).
    """
    mu = np.asarray(mu, "float32")
    if mu.ndim != 2 or len(mu) < 2:
        raise ValueError(f"Argument `mu` must be an array (N, latent_dim) with N >= 2. Received: mu.shape={mu.shape}")
    if n < 1:
        raise ValueError(f"Argument `n` must be a positive integer. Received: n={n}")
    pca = PCA(n_components=min(n, len(mu) - 1, mu.shape[1])).fit(mu)
    return LatentDirections(
        mean=pca.mean_.astype("float32"),
        directions=pca.components_.astype("float32"),
        sds=np.sqrt(pca.explained_variance_).astype("float32"),
        explained_variance_ratio=pca.explained_variance_ratio_.astype("float32"),
    )


def principal_directions(model, images, n: int = 6) -> LatentDirections:
    """Principal directions of the posterior means of ``images`` (N, H, W, 3) in [0, 1] under ``model``."""
    mu, _ = encode(model, _check_images(images))
    return directions_of_codes(mu, n)


def _decode(model_or_decoder, z) -> np.ndarray:
    decoder = getattr(model_or_decoder, "decoder", model_or_decoder)
    return np.asarray(decoder(np.asarray(z, "float32"), training=False))


def traverse(model_or_decoder, directions: LatentDirections, index: int, values, start=None) -> np.ndarray:
    """Decode a code moved along direction ``index`` by each of ``values`` (in standard deviations):
    (len(values), H, W, 3).

    ``start`` is the code to move, shape (latent_dim,): by default the mean code (every other slider at 0);
    an encoded image's ``mu`` starts from a real code, so the value 0 decodes to that image's reconstruction."""
    if not 0 <= index < len(directions):
        raise ValueError(f"Argument `index` must be in [0, {len(directions)}). Received: index={index}")
    if start is None:
        s = np.zeros((len(values), len(directions)), "float32")
        s[:, index] = values
        return _decode(model_or_decoder, directions.point(s))
    start = np.asarray(start, "float32")
    if start.shape != directions.mean.shape:
        raise ValueError(f"Argument `start` must be one code, shape {directions.mean.shape}. "
                         f"Received: start.shape={start.shape}")
    steps = np.asarray(values, "float32")[:, None] * directions.sds[index] * directions.directions[index]
    return _decode(model_or_decoder, start + steps)


def slider_effects(model_or_decoder, directions: LatentDirections, limit: float = 3.0) -> np.ndarray:
    """How much each slider changes the picture: for each direction, the mean absolute difference
    (over pixels and channels, pixel values in [0, 1]) between the pictures decoded at ``-limit`` and
    at ``+limit`` standard deviations from the mean code. Shape (n,), values in [0, 1]."""
    ends = np.stack([traverse(model_or_decoder, directions, i, [-limit, limit]) for i in range(len(directions))])
    return np.abs(ends[:, 1] - ends[:, 0]).mean(axis=(1, 2, 3))
