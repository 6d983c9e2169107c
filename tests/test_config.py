"""One definition of each default and each formula: config.py's defaults are the teaching core's, and the
evaluation's numbers come from the loss's formulas."""

import inspect
import math
import subprocess
import sys

import numpy as np
import pytest

from vae_tutorial import config, losses
from vae_tutorial.decoder import build_decoder
from vae_tutorial.encoder import build_encoder
from vae_tutorial.evaluation.bounds import decoder_log_variance, gaussian_log_likelihood
from vae_tutorial.evaluation.latent_statistics import kl_per_dimension
from vae_tutorial.model import DECODER_VARIANCES, VAE


def defaults(function):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_config_imports_no_tensorflow():
    code = "import sys, vae_tutorial.config; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_teaching_core_keeps_the_defaults_of_config():
    """The core writes its defaults as literals students read (``latent_dim=512``); they are config's."""
    assert losses.REDUCTIONS == config.REDUCTIONS and DECODER_VARIANCES == config.DECODER_VARIANCES
    assert defaults(losses.reconstruction_loss)["reduction"] == config.REDUCTION
    assert defaults(losses.vae_loss)["beta"] == config.BETA
    model = defaults(VAE.__init__)
    assert (model["latent_dim"], model["image_size"], model["reconstruction_reduction"], model["decoder_variance"],
            model["beta"]) == (config.LATENT_DIM, config.IMAGE_SIZE, config.REDUCTION, config.DECODER_VARIANCE,
                               config.BETA)
    for build in (build_encoder, build_decoder):
        assert (defaults(build)["latent_dim"], defaults(build)["image_size"]) == (config.LATENT_DIM, config.IMAGE_SIZE)


def test_the_evaluation_likelihood_is_the_loss_nll_in_float64():
    rng = np.random.default_rng(0)
    x, x_hat = rng.random((3, 4, 4, 3)), rng.random((3, 4, 4, 3))
    log_variance = math.log(0.03)
    loss = np.asarray(losses.gaussian_nll(x.astype("float32"), x_hat.astype("float32"), log_variance))
    evaluated = gaussian_log_likelihood(x, x_hat, log_variance)
    assert evaluated.dtype == np.float64
    np.testing.assert_allclose(-evaluated, loss, rtol=1e-5)


def test_the_evaluation_kl_is_the_loss_kl_per_dimension():
    rng = np.random.default_rng(1)
    mu, log_var = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    per_dimension = kl_per_dimension(mu, log_var)
    assert per_dimension.dtype == np.float64 and per_dimension.shape == (6,)
    np.testing.assert_allclose(per_dimension.sum(), float(np.mean(losses.kl_divergence(mu, log_var))), rtol=1e-12)


@pytest.mark.parametrize("mode", DECODER_VARIANCES)
def test_the_evaluation_decoder_variance_is_the_model_rule(mode):
    """For "optimal" on one batch, the model's own log σ² with the same z (the evaluation's noise, seed 3)."""
    model = VAE(latent_dim=4, image_size=8, decoder_variance=mode, seed=0)
    images = np.random.default_rng(2).random((6, 8, 8, 3)).astype("float32")
    mu, log_var = (np.asarray(t, np.float64) for t in model.encode(images))
    z = mu + np.exp(0.5 * log_var) * np.random.default_rng(3).standard_normal(mu.shape)
    x_hat = model.decoder(z.astype("float32"))
    rule = model.decoder_log_variance(images, x_hat)
    expected = math.log(0.5) if rule is None else float(rule)
    assert decoder_log_variance(model, images, seed=3) == pytest.approx(expected, abs=1e-5)


def test_the_shown_signatures_keep_the_defaults_of_config():
    """``make_pipeline``, ``training_callbacks`` and ``train``, whose source notebooks 1 and 5 show, keep literals."""
    from vae_tutorial.data.pipeline import make_pipeline
    from vae_tutorial.training.trainer import DEFAULTS, train, training_callbacks

    assert (defaults(make_pipeline)["batch_size"], defaults(make_pipeline)["seed"]) == (config.BATCH_SIZE, config.SEED)
    assert defaults(training_callbacks)["seed"] == defaults(train)["seed"] == config.SEED
    assert defaults(train)["epochs"] == DEFAULTS["epochs"] == config.EPOCHS
