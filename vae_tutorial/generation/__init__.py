"""New images from a trained VAE: decoded from codes sampled from the prior or from a mixture fitted
to the training codes (:mod:`.images`, :mod:`.mixture`), and walks along directions of the latent
space (:mod:`.directions`). Reconstructions (decoded codes of real images) are
:func:`vae_tutorial.evaluation.reconstruct`.
"""

from vae_tutorial.generation.directions import (latent_traversal, LatentDirections, directions_of_codes,
                                                principal_directions, traverse, slider_effects)
from vae_tutorial.generation.images import generate, interpolate  # noqa: F401
from vae_tutorial.generation.mixture import (sample_mixture, fit_code_mixture, MIXTURE_ARRAYS,
                                             MIXTURE_NUMBERS, save_code_mixture, load_code_mixture)
