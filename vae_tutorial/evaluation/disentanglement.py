"""Disentanglement: does each latent dimension stand for one known factor of the data?

The shapes data set (:func:`vae_tutorial.data.make_shapes`) is drawn from known factors:
shape, scale, rotation, position (x, y) and hue. The **mutual information gap** (MIG; Chen, Li,
Grosse and Duvenaud, "Isolating Sources of Disentanglement in VAEs", 2018) asks, for each factor
v_k, how much more the latent dimension that knows most about it knows than the next one:

    MIG = 1/K · Σ_k [ I(z_a; v_k) - I(z_b; v_k) ] / H(v_k),

where z_a and z_b are the dimensions with the most and the second most mutual information with
v_k, and H(v_k) the factor's entropy. It is near 1 when each factor is copied into a dimension of
its own, and near 0 when no dimension knows a factor, or when two know it equally well.

The codes (posterior means) and the continuous factors are cut into equal-width bins, and the
mutual information of the bin numbers is scikit-learn's ``mutual_info_score`` (in nats), as in
Locatello et al.'s ``disentanglement_lib`` (2019). A finite sample makes even independent
variables share a little information, so the score of a random code is small but not 0.
"""

from __future__ import annotations

import numpy as np

SHAPE_FACTORS = ("shape", "scale", "rotation", "x", "y", "hue")  # the columns of factors.csv that vary


N_BINS = 20


def discretize(values, n_bins: int = N_BINS) -> np.ndarray:
    """Integer labels (N,) for one factor or one code dimension (N,).

    Floating-point values are cut into ``n_bins`` equal-width bins over their range; anything else
    (ints, strings, booleans) is a category, labelled 0, 1, ... in sorted order.
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"Argument `values` must be one-dimensional. Received: values.shape={values.shape}")
    if values.dtype.kind != "f":
        return np.unique(values, return_inverse=True)[1].reshape(-1)
    edges = np.histogram_bin_edges(values, bins=n_bins)
    return np.digitize(values, edges[1:-1])


def _checked(codes, factors):
    from collections.abc import Mapping

    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2:
        raise ValueError(f"Argument `codes` must have shape (N, latent_dim). Received: codes.shape={codes.shape}")
    if not isinstance(factors, Mapping) or not factors:
        raise ValueError("Argument `factors` must be a dict of factor name → values (N,). "
                         f"Received: factors of type {type(factors).__name__}")
    for name, values in factors.items():
        if np.shape(values) != (len(codes),):
            raise ValueError(f"Argument `factors` must hold {len(codes)} values per factor, one per code. "
                             f"Received: {name!r} with shape {np.shape(values)}")
    return codes


def mutual_information(codes, factors: dict, n_bins: int = N_BINS) -> np.ndarray:
    """I(z_j; v_k) in nats for every code dimension j and factor k: shape (latent_dim, n_factors).

    ``codes``: (N, latent_dim) posterior means; ``factors``: factor name → (N,) values, in the same
    order as the codes (the columns follow the dict's order).
    """
    from sklearn.metrics import mutual_info_score

    codes = _checked(codes, factors)
    binned_codes = [discretize(codes[:, j], n_bins) for j in range(codes.shape[1])]
    labels = [discretize(values, n_bins) for values in factors.values()]
    return np.array([[mutual_info_score(v, z) for v in labels] for z in binned_codes])


def information_gaps(codes, factors: dict, n_bins: int = N_BINS) -> dict[str, float]:
    """Factor name → [I(z_a; v) - I(z_b; v)] / H(v), the gap between its two most informative dimensions.

    Raises:
        ValueError: for a factor that takes a single value (its entropy is 0), or codes of one dimension.
    """
    from sklearn.metrics import mutual_info_score

    information = mutual_information(codes, factors, n_bins)
    if information.shape[0] < 2:
        raise ValueError("Argument `codes` must have at least 2 dimensions for a gap between two of them. "
                         f"Received: codes with {information.shape[0]} dimension")
    gaps = {}
    for k, (name, values) in enumerate(factors.items()):
        labels = discretize(values, n_bins)
        entropy = mutual_info_score(labels, labels)
        if entropy <= 0:
            raise ValueError(f"Argument `factors` must vary: {name!r} takes a single value")
        second, first = np.sort(information[:, k])[-2:]
        gaps[name] = float((first - second) / entropy)
    return gaps


def mutual_information_gap(codes, factors: dict, n_bins: int = N_BINS) -> float:
    """The MIG: the mean over factors of :func:`information_gaps`, between 0 and 1."""
    return float(np.mean(list(information_gaps(codes, factors, n_bins).values())))


def factor_dimensions(codes, factors: dict, n_bins: int = N_BINS) -> dict[str, int]:
    """Factor name → the code dimension with the most mutual information about it."""
    information = mutual_information(codes, factors, n_bins)
    return {name: int(np.argmax(information[:, k])) for k, name in enumerate(factors)}


def shape_factor_values(rows, files, names=SHAPE_FACTORS) -> dict[str, np.ndarray]:
    """The factors of the shape images ``files`` (paths or names), in their order, as arrays.

    ``rows``: :func:`vae_tutorial.data.read_shape_factors`. ``shape`` comes back as strings,
    the other factors as floats.

    Raises:
        ValueError: for a file that ``factors.csv`` does not list.
    """
    from pathlib import Path

    by_file = {row["file"]: row for row in rows}
    missing = [str(f) for f in files if Path(f).name not in by_file]
    if missing:
        raise ValueError(f"Argument `files` must name images listed in factors.csv. Received: {missing[0]!r}")
    chosen = [by_file[Path(f).name] for f in files]
    return {name: np.array([row[name] for row in chosen]) if name == "shape"
            else np.array([float(row[name]) for row in chosen]) for name in names}
