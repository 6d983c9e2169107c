"""Checkers for the notebooks' exercises: your code against the reference, on fixed inputs.

Every ``check_*`` function takes what you wrote (a function, or a function that builds a model),
runs it on fixed inputs and

- prints ``✓ ...`` and returns None when it is right;
- prints ``○ ... not attempted yet`` and returns None when your function returns None, as the
  exercise's scaffold (a body of ``...``) does: a notebook with unfilled exercises still runs to the end;
- raises ``AssertionError`` with a one-line hint naming what is wrong otherwise: a shape, a range,
  a reduction, a missing ½, a sign, a missing gradient, ... An exception raised by your code
  becomes such an AssertionError too, with your exception attached below it.

Checkers that draw random numbers first call ``keras.utils.set_random_seed(0)``, so a verdict
never depends on luck. Each checker also writes its verdict down when ``vae-tutorial grade`` runs the
notebook (:mod:`vae_tutorial.course.verdicts`); otherwise that changes nothing.

Notebook 1: ``check_preprocess``, ``check_visualize_batch``
Notebook 2: ``check_encoder``, ``check_sampling``
Notebook 3: ``check_decoder``, ``check_upsampled_size``, ``check_find_the_bug_decoder``
Notebook 4: ``check_kl_divergence``, ``check_reconstruction_loss``, ``check_find_the_bug_loss``,
            ``check_find_the_bug_encoder``
Notebook 5: ``check_adam_update``, ``check_train_step``, ``check_my_vae``
Notebook 6: ``check_generate``, ``check_interpolate``
Notebook 7: ``check_decoder_variance``, ``check_gaussian_nll``

One module per notebook; the shared machinery is in :mod:`.common`.
"""

from vae_tutorial.course.exercises.beyond_the_basics import check_decoder_variance, check_gaussian_nll  # noqa: F401
from vae_tutorial.course.exercises.data_preparation import check_preprocess, check_visualize_batch  # noqa: F401
from vae_tutorial.course.exercises.decoder import (check_decoder, check_upsampled_size,
                                                   check_find_the_bug_decoder)
from vae_tutorial.course.exercises.encoder_and_sampling import check_encoder, check_sampling  # noqa: F401
from vae_tutorial.course.exercises.generation import check_generate, check_interpolate  # noqa: F401
from vae_tutorial.course.exercises.model_and_loss import (check_kl_divergence, check_reconstruction_loss,
                                                          check_find_the_bug_loss,
                                                          check_find_the_bug_encoder)
from vae_tutorial.course.exercises.training import check_adam_update, check_my_vae, check_train_step  # noqa: F401
