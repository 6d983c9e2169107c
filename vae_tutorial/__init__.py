"""vae-tutorial: a Variational Autoencoder in TensorFlow and Keras 3, taught step by step.

Modules and subpackages, in the order data flows through them (each imports only from those before it):
``config`` → ``data`` → the teaching core (``encoder``, ``sampling``, ``decoder``, ``losses``, ``model``)
with ``prior`` and ``saving`` → ``fast`` (speed-ups) → ``evaluation`` → ``plots`` → ``training`` →
``generation`` → ``commands`` → ``course`` (the notebooks' checkers, grading, ``show`` and the explorer)
and ``cli``. ``tests/test_architecture.py`` checks the order.

Importing the package does not import TensorFlow, so the command line starts at once. It arranges
that when Keras is imported, by you or by the package, TensorFlow's start-up log lines are filtered
and the package's Keras classes are registered: ``keras.saving.load_model`` then loads a model
that ``vae-tutorial train`` wrote (see :mod:`vae_tutorial.keras_hook`).
"""

from vae_tutorial import keras_hook

__version__ = "0.1.0"

keras_hook.install()
