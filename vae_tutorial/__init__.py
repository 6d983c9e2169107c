"""vae-tutorial: a Variational Autoencoder in TensorFlow and Keras 3, taught step by step.

Modules, in the order data flows through them: ``data``, ``datasets`` → ``encoder``, ``sampling``,
``decoder``, ``losses``, ``model`` (the teaching core) → ``training`` (with ``callbacks``, ``runs``,
``loss_scale`` and the speed-ups in ``fast``) → ``generation``, ``analysis``, ``evaluation`` →
``widgets``, ``cli``. For the notebooks: ``source`` shows the package's code, ``exercises`` checks
the students' code, and ``grading`` (with ``verdicts``) grades their notebooks for ``vae-tutorial grade``.

Importing the package does not import TensorFlow, so the command line starts at once. It arranges
that when Keras is imported, by you or by the package, TensorFlow's start-up log lines are filtered
and the package's Keras classes are registered: ``keras.saving.load_model`` then loads a model
that ``vae-tutorial train`` wrote (see :mod:`vae_tutorial.keras_hook`).
"""

from vae_tutorial import keras_hook

__version__ = "0.1.0"

keras_hook.install()
