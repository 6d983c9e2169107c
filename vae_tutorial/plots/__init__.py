"""Every figure: images (:mod:`.images`), curves and bars (:mod:`.curves`), the course's
diagrams (:mod:`.diagrams`), and a two-dimensional latent space (:mod:`.latent`).
"""

from vae_tutorial.plots.curves import plot_kl_per_dimension, read_history, plot_history, plot_samples_vs_density  # noqa: F401
from vae_tutorial.plots.diagrams import (plot_transposed_convolution, ENCODER_COLOUR, DECODER_COLOUR,
                                         SAMPLING_COLOUR, NOISE_COLOUR, GRADIENT_COLOUR, describe_layer,
                                         output_shape, plot_architecture, plot_reparameterisation)
from vae_tutorial.plots.images import (visualize_batch, plot_epoch_grids, plot_reconstruction_comparison,
                                       GENERATED_TITLE, MIXTURE_TITLE, RECONSTRUCTED_TITLE, plot_generated,
                                       plot_reconstructions)
from vae_tutorial.plots.latent import (latent_grid, noisy_samples, plot_latent_manifold, plot_latent_scatter,  # noqa: F401
                                       plot_samples_with_noise)
