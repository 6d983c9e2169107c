"""Every default and every list of choices of the package, in one place; imports nothing (no TensorFlow).

The command line, :func:`~vae_tutorial.training.build_vae`, :func:`~vae_tutorial.training.train` and the
data pipeline take their defaults from here. The teaching core (``model.py``, ``losses.py``, ``encoder.py``,
``decoder.py``) keeps its defaults as literals that students read (``latent_dim=512``); a test checks that they
equal these.
"""

# The model
LATENT_DIM = 512  # size of z
IMAGE_SIZE = 64  # pixels: the side of the square images
REDUCTIONS = ("sum", "mean")  # of the reconstruction error over an image's values
REDUCTION = "sum"  # "mean" collapses the posterior: shown in the notebooks
DECODER_VARIANCES = ("fixed", "learned", "optimal")  # the Gaussian decoder's σ²
DECODER_VARIANCE = "fixed"  # the model's: σ² = ½, the summed squared error the notebooks teach
TRAIN_DECODER_VARIANCE = "optimal"  # vae-tutorial train's: a calibrated decoder
BETA = 1.0  # the weight of the KL term (1: the ELBO)

# Training
BATCH_SIZE = 64
EPOCHS = 50
LEARNING_RATE = 1e-3
VALIDATION_SPLIT = 0.1  # fraction of the images held out
SEED = 0
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
PRECISION = "auto"  # mixed bfloat16 where the CPU has bfloat16 units, else float32
STRATEGIES = ("default", "mirrored", "multiworker")  # tf.distribute strategies by name

# Data
DATA_SETS = ("emoji", "shapes")  # the data sets known by name; anything else is a folder
SHAPES = 2000  # images in the generated shapes set

# Generation and evaluation
SAMPLERS = ("prior", "mixture")  # where z comes from
MIXTURE_COMPONENTS = 10  # Gaussians in the mixture of the codes that train fits and generate samples
MIXTURE_IMAGES = 5000  # at most this many training images' codes are fitted (time grows with them)
IWAE_SAMPLES = 100  # importance samples per image for the IWAE bound


class UsageError(Exception):
    """A problem with what the user asked for (settings, files, data); the message is one line for the user."""
