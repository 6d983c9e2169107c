"""vae-tutorial: a Variational Autoencoder in TensorFlow and Keras 3, taught step by step.

Modules, in the order data flows through them:
``data`` → ``datasets`` → ``encoder``/``sampling``/``decoder`` → ``model``/``losses``
→ ``training`` → ``generation``/``analysis`` → ``widgets``/``cli``.
"""

from vae_tutorial._quiet import import_tensorflow_quietly

import_tensorflow_quietly()

__version__ = "0.1.0"
