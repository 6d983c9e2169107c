"""Sampling where the codes are: a Gaussian mixture fitted to the posterior means, and its file."""

import json

import keras
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from tests.conftest import cli_here, run_cli
from vae_tutorial.evaluation import encode
from vae_tutorial.generation import (fit_code_mixture, generate, load_code_mixture, sample_mixture,
                                     save_code_mixture)
from vae_tutorial.model import VAE


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)  # the weights: the same whichever tests ran before (not the global random state)
    return VAE(latent_dim=4, seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((40, 64, 64, 3)).astype("float32")


@pytest.fixture(scope="module")
def two_clusters():
    """A mixture of two tight clusters far apart in 4 dimensions, 30 % and 70 % of the codes."""
    rng = np.random.default_rng(1)
    codes = np.concatenate([rng.normal(-5, 0.01, (300, 4)), rng.normal(5, 0.01, (700, 4))])
    return GaussianMixture(2, random_state=0).fit(codes)


def test_mixture_is_fitted_to_the_posterior_means(model, images):
    mixture = fit_code_mixture(model, images, n_components=3, seed=0)
    assert isinstance(mixture, GaussianMixture) and mixture.means_.shape == (3, 4)
    mu, _ = encode(model, images)
    reference = GaussianMixture(3, random_state=0).fit(mu.astype("float64"))  # as fit_code_mixture does
    np.testing.assert_allclose(mixture.means_, reference.means_, rtol=1e-6)
    with pytest.raises(ValueError, match="n_components"):
        fit_code_mixture(model, images, n_components=41)
    with pytest.raises(ValueError, match="n_components"):
        fit_code_mixture(model, images, n_components=0)


def test_samples_come_from_the_mixture(two_clusters):
    z = sample_mixture(two_clusters, 1000, seed=0)
    assert z.shape == (1000, 4) and z.dtype == np.float32
    near_plus = np.abs(z - 5).max(axis=1) < 0.1
    near_minus = np.abs(z + 5).max(axis=1) < 0.1
    assert (near_plus | near_minus).all()
    assert near_plus.mean() == pytest.approx(0.7, abs=0.05)
    assert 0 < near_plus[:20].sum() < 20  # shuffled, not grouped by component as scikit-learn returns them
    centres = sample_mixture(two_clusters, 50, seed=0, temperature=0.0)
    distance = np.abs(centres[:, None] - two_clusters.means_[None]).max(axis=-1).min(axis=1)
    assert distance.max() < 1e-5  # temperature 0: each code is the mean of its component


def test_generate_from_a_mixture_is_deterministic_per_seed(model, images):
    mixture = fit_code_mixture(model, images, n_components=2)
    state = mixture.random_state
    first = generate(model, 6, seed=3, mixture=mixture)
    assert first.shape == (6, 64, 64, 3) and 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, generate(model, 6, seed=3, mixture=mixture))
    assert not np.array_equal(first, generate(model, 6, seed=4, mixture=mixture))
    assert not np.array_equal(first, generate(model, 6, seed=3))  # the prior is another sampler
    assert mixture.random_state == state  # the caller's mixture is left as it was
    z = sample_mixture(mixture, 6, seed=3)
    np.testing.assert_allclose(first, model.decoder.predict(z, verbose=0), atol=1e-6)


def test_a_mixture_of_another_latent_size_is_refused(model, two_clusters):
    other = GaussianMixture(1).fit(np.random.default_rng(0).standard_normal((20, 3)))
    with pytest.raises(ValueError, match="codes of size 4"):
        generate(model, 2, mixture=other)


def test_mixture_file_round_trip(two_clusters, model, images, tmp_path):
    fitted = fit_code_mixture(model, images, n_components=2)  # to float32 codes, as the command line does
    save_code_mixture(fitted, tmp_path / "fitted.npz")
    np.testing.assert_array_equal(load_code_mixture(tmp_path / "fitted.npz")[0].means_, fitted.means_)
    path = tmp_path / "mixture.npz"
    save_code_mixture(two_clusters, path, model_sha256="abc")
    loaded, metadata = load_code_mixture(path)
    assert metadata == {"model_sha256": "abc"}
    np.testing.assert_array_equal(sample_mixture(loaded, 20, seed=5), sample_mixture(two_clusters, 20, seed=5))
    codes = np.random.default_rng(2).standard_normal((10, 4))
    np.testing.assert_allclose(loaded.score_samples(codes), two_clusters.score_samples(codes))
    assert loaded.converged_ == two_clusters.converged_ and loaded.n_iter_ == two_clusters.n_iter_


def test_a_file_that_is_not_a_mixture_is_refused(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, info=np.array([{"params": {}}], dtype=object))  # needs pickle to read
    with pytest.raises(ValueError, match="not a saved code mixture"):
        load_code_mixture(pickled)
    partial = tmp_path / "partial.npz"
    np.savez(partial, info=np.array(json.dumps({"params": {}, "fitted": {}, "metadata": {}})))
    with pytest.raises(ValueError, match="not a saved code mixture"):
        load_code_mixture(partial)
    (tmp_path / "garbage.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a saved code mixture"):
        load_code_mixture(tmp_path / "garbage.npz")


@pytest.mark.slow
def test_generate_with_the_mixture_sampler_fits_once_and_reuses(trained_run, tmp_path):
    run, _ = trained_run
    first = run_cli("generate", "--model", run / "model.keras", "--sampler", "mixture", "--components", "3",
                    "--n", "8", "--out", tmp_path / "mixture.png")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "fitting a mixture of 3 Gaussians" in first.stdout and (tmp_path / "mixture.png").stat().st_size > 0
    assert (run / "mixture.npz").is_file()
    mixture, _ = load_code_mixture(run / "mixture.npz")
    assert mixture.n_components == 3
    config = json.loads((run / "config.json").read_text())
    assert len(mixture.means_[0]) == config["latent_dim"]
    again = run_cli("generate", "--model", run / "model.keras", "--sampler", "mixture", "--components", "3",
                    "--n", "8", "--out", tmp_path / "again.png")
    assert again.returncode == 0 and "using the mixture of 3 Gaussians" in again.stdout
    (run / "mixture.npz").write_bytes(b"damaged")
    repaired = run_cli("generate", "--model", run / "model.keras", "--sampler", "mixture", "--components", "3",
                       "--n", "8", "--out", tmp_path / "repaired.png")
    assert repaired.returncode == 0 and "fitting it again" in repaired.stdout
    assert load_code_mixture(run / "mixture.npz")[0].n_components == 3


@pytest.mark.slow  # needs the trained run; the commands themselves run in this process
def test_the_mixture_sampler_errors_are_one_line(trained_run, tmp_path, capsys):
    run, _ = trained_run
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "model.keras").write_bytes((run / "model.keras").read_bytes())
    result = cli_here(capsys, "generate", "--model", alone / "model.keras", "--sampler", "mixture", "--out",
                      tmp_path / "x.png")
    assert result.returncode == 2 and "config.json" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    too_many = cli_here(capsys, "generate", "--model", run / "model.keras", "--sampler", "mixture",
                        "--components", "100000", "--out", tmp_path / "x.png")
    assert too_many.returncode == 2 and "--components 100000" in too_many.stderr
    assert too_many.stderr.count("\n") == 1
