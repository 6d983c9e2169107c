"""The mutual information gap: high for a code that copies the factors, low for noise."""

import numpy as np
import pytest

from vae_tutorial.data import read_shape_factors
from vae_tutorial.evaluation import (discretize, factor_dimensions, information_gaps, mutual_information,
                                     mutual_information_gap, shape_factor_values, SHAPE_FACTORS)


@pytest.fixture(scope="module")
def factors():
    rng = np.random.default_rng(0)
    n = 2000
    return {"shape": rng.choice(["circle", "square", "star"], n), "scale": rng.uniform(0.1, 0.3, n),
            "x": rng.uniform(0, 1, n)}


def test_discretize_bins_floats_and_labels_categories():
    np.testing.assert_array_equal(discretize(np.array([0.0, 0.24, 0.26, 0.5, 0.99, 1.0]), n_bins=4),
                                  [0, 0, 1, 2, 3, 3])
    np.testing.assert_array_equal(discretize(np.array(["star", "circle", "star"])), [1, 0, 1])
    assert len(set(discretize(np.full(10, 3.0)))) == 1  # a constant is one bin
    with pytest.raises(ValueError, match="one-dimensional"):
        discretize(np.zeros((2, 2)))


def test_mig_is_high_for_a_code_that_copies_the_factors(factors):
    rng = np.random.default_rng(1)
    shape_code = np.unique(factors["shape"], return_inverse=True)[1] + 0.1 * rng.standard_normal(2000)
    copied = np.stack([factors["x"], rng.standard_normal(2000), factors["scale"], shape_code,
                       rng.standard_normal(2000)], axis=1)
    assert 0.7 < mutual_information_gap(copied, factors) <= 1.0
    assert factor_dimensions(copied, factors) == {"shape": 3, "scale": 2, "x": 0}
    gaps = information_gaps(copied, factors)
    assert list(gaps) == ["shape", "scale", "x"] and 0.6 < min(gaps.values()) and max(gaps.values()) <= 1.0


def test_mig_is_low_for_noise_and_for_a_factor_copied_twice(factors):
    rng = np.random.default_rng(2)
    noise = rng.standard_normal((2000, 5))
    assert mutual_information_gap(noise, factors) < 0.05
    twice = np.stack([factors["x"], factors["x"] + 1e-3 * rng.standard_normal(2000), factors["scale"]], axis=1)
    gaps = information_gaps(twice, factors)
    assert gaps["x"] < 0.15 and gaps["scale"] > 0.6  # two dimensions know x equally well: no gap


def test_mutual_information_is_in_nats_and_shaped_dimensions_by_factors(factors):
    rng = np.random.default_rng(3)
    codes = np.stack([factors["x"], rng.standard_normal(2000)], axis=1)
    information = mutual_information(codes, factors, n_bins=10)
    assert information.shape == (2, 3)
    # x copied exactly, 10 equal-width bins of a uniform: I = H(x) ≈ log 10
    assert information[0, 2] == pytest.approx(np.log(10), abs=0.02)


def test_arguments_are_checked(factors):
    with pytest.raises(ValueError, match="one per code"):
        mutual_information_gap(np.zeros((5, 2)), factors)
    with pytest.raises(ValueError, match="single value"):
        information_gaps(np.random.default_rng(0).standard_normal((4, 2)), {"c": np.ones(4)})
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        information_gaps(np.zeros((2000, 1)), factors)
    with pytest.raises(ValueError, match="dict"):
        mutual_information_gap(np.zeros((5, 2)), np.zeros((5, 2)))


def test_shape_factors_follow_the_order_of_the_files(shapes_folder):
    rows = read_shape_factors(shapes_folder)
    files = [shapes_folder / rows[i]["file"] for i in (5, 2, 9)]
    values = shape_factor_values(rows, files)
    assert list(values) == list(SHAPE_FACTORS)
    assert list(values["shape"]) == [rows[i]["shape"] for i in (5, 2, 9)]
    assert values["scale"].dtype == np.float64 and values["scale"][1] == float(rows[2]["scale"])
    with pytest.raises(ValueError, match="factors.csv"):
        shape_factor_values(rows, ["elsewhere.png"])
