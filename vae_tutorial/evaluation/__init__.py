"""Numbers about a trained VAE.

- :mod:`.codes`: images to codes and back (:func:`encode`, :func:`reconstruct`);
- :mod:`.latent_statistics`: KL per latent dimension and active units;
- :mod:`.loss_terms`: the size of each loss term, and whether the posterior has collapsed;
- :mod:`.bounds`: the held-out ELBO and the importance-weighted bound on log p(x);
- :mod:`.summary`: per-pixel error against the mean image's;
- :mod:`.two_sample`: can a classifier tell generated images from real ones;
- :mod:`.disentanglement`: mutual information between codes and known factors.
"""

from vae_tutorial.evaluation.bounds import (FIXED_VARIANCE, LOG_2PI, decoder_log_variance,
                                            gaussian_log_likelihood, log_importance_weights, iwae_bound,
                                            evaluate)
from vae_tutorial.evaluation.codes import encode, reconstruct  # noqa: F401
from vae_tutorial.evaluation.disentanglement import (SHAPE_FACTORS, N_BINS, discretize, mutual_information,
                                                     information_gaps, mutual_information_gap,
                                                     factor_dimensions, shape_factor_values)
from vae_tutorial.evaluation.latent_statistics import (ACTIVE_THRESHOLD, kl_per_dimension, active_dimensions,
                                                       active_units)
from vae_tutorial.evaluation.loss_terms import COLLAPSED_KL, loss_scale, describe  # noqa: F401
from vae_tutorial.evaluation.summary import per_pixel_mse, mean_image_mse, dimensions_by_kl, summarize  # noqa: F401
from vae_tutorial.evaluation.two_sample import (CLASSIFIERS, image_features, make_classifier,
                                                classifier_two_sample_test)
