"""What happens when Keras is first imported: quiet TensorFlow, then register the package's classes.

``keras.saving.load_model`` finds a custom class only once the module that registers it has
been imported. Importing those modules from the package's ``__init__`` would import TensorFlow
(seconds) for every use of the package, the command line's ``--help`` included. Instead
:func:`install` puts a finder on ``sys.meta_path`` that waits for the first import of Keras:

- Keras (and TensorFlow with it) is imported, and TensorFlow lists its devices, with TensorFlow's
  start-up lines filtered from stderr (:func:`vae_tutorial.quiet.quiet_stderr`);
- once Keras is loaded and no module of this package is half-way through its own import,
  ``vae_tutorial.model``, ``vae_tutorial.fast`` and ``vae_tutorial.training.distribute`` are
  imported, which register the classes a saved model names (``VAE``, ``Sampling``, ``FusedAdam``,
  ``DistributedVAE``, ...). This is the one import against the layers' order, by name and on purpose:
  a class must be registered before a saved model that names it can load.
"""

import importlib.abc
import importlib.machinery
import sys

REGISTERING_MODULES = ("vae_tutorial.model", "vae_tutorial.fast", "vae_tutorial.training.distribute")  # they register the classes models name
_depth = 0  # how many of the package's modules are being imported right now


def install():
    """Register now if Keras is already imported; otherwise wait for its import."""
    if "keras" in sys.modules:
        _register_when_ready()
    elif not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def _register_when_ready():
    if _depth == 0 and "keras" in sys.modules:
        for name in REGISTERING_MODULES:
            if name not in sys.modules:
                importlib.import_module(name)


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps the loaders of ``keras``, ``tensorflow`` and this package's modules (see the module docstring)."""

    def find_spec(self, name, path=None, target=None):
        if name not in ("keras", "tensorflow") and not name.startswith("vae_tutorial."):
            return None
        # Relies on Keras and TensorFlow being regular packages on sys.path, which PathFinder finds and loads with
        # a loader that has exec_module; checked against Keras 3.13.0 and 3.15.1 (tests/test_private_hooks.py). Were
        # Keras found by another finder, the registering modules would be imported half-way through its import, when
        # the TensorFlow it imports is loaded, and `import keras` would fail.
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, quiet=name in ("keras", "tensorflow"))
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, quiet):
        self.loader, self.quiet = loader, quiet

    def __getattr__(self, name):  # get_source, get_filename, ...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        global _depth
        _depth += 1
        try:
            if self.quiet:
                from vae_tutorial.quiet import quiet_stderr

                with quiet_stderr():
                    self.loader.exec_module(module)
                    if module.__name__ == "tensorflow":  # finding devices logs "failed call to cuInit" without a GPU
                        module.config.list_physical_devices()
            else:
                self.loader.exec_module(module)
        finally:
            _depth -= 1
        _register_when_ready()
