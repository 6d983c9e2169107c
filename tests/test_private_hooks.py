"""The package's uses of Keras' private attributes and internal behaviour, each checked directly.

Each test checks one hook (docs/speed-ups.md, "Private hooks") against the installed Keras: when a Keras upgrade
changes what a hook relies on, its test fails with a message naming the hook, its file, what it relies on and the
Keras versions it was checked against (``vae_tutorial.fast.CHECKED_KERAS``).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from vae_tutorial.fast import CHECKED_KERAS, FusedAdam
from vae_tutorial.fast.subpixel import SubPixelConv2DTranspose

ROOT = Path(__file__).resolve().parents[1]
CHECKED = " and ".join(CHECKED_KERAS)

ADAM = "FusedAdam.update_step (vae_tutorial/fast/adam.py)"
CLASS_NAME = "SubPixelConv2DTranspose's class name 'Conv2DTranspose' (vae_tutorial/fast/subpixel.py)"
FAST_PATH = "SubPixelConv2DTranspose's fast path, _convolution_form and call (vae_tutorial/fast/subpixel.py)"
IMPORT_HOOK = "the import hook (vae_tutorial/keras_hook.py)"
HOOK_FILES = ("vae_tutorial/fast/adam.py", "vae_tutorial/fast/subpixel.py", "vae_tutorial/keras_hook.py")


def require(condition, hook, relies_on, found):
    """Assert ``condition``; the message names the hook, what it relies on, and what this Keras does instead."""
    assert condition, (f"{hook} relies on {relies_on} (checked against Keras {CHECKED}), but with Keras "
                       f"{keras.__version__}: {found}. See 'Private hooks' in docs/speed-ups.md.")


def test_fused_adam_finds_adams_slots_and_updates_them_in_place():
    """Adam's private ``_momentums`` and ``_velocities`` hold m and v, one Keras variable per trainable variable at
    the index ``_get_variable_index`` gives; ``ResourceApplyAdam``'s writes through the ``handle`` of the variable
    ``update_step`` receives and of m's and v's ``.value`` are what Keras then holds in the variables and slots."""
    variables = [keras.Variable(np.ones((2, 3), "float32")), keras.Variable(np.zeros(4, "float32"))]
    optimizer = FusedAdam(learning_rate=0.1, beta_1=0.8, beta_2=0.9)
    optimizer.build(variables)
    for name in ("_momentums", "_velocities", "_get_variable_index"):
        require(hasattr(optimizer, name), ADAM, f"keras.optimizers.Adam's private attribute {name}", "it is gone")
    for name in ("_momentums", "_velocities"):
        slots = getattr(optimizer, name)
        require(isinstance(slots, list) and [tuple(s.shape) for s in slots] == [tuple(v.shape) for v in variables]
                and all(getattr(s.value, "handle", None) is not None for s in slots),
                ADAM, f"Adam.{name} being a list of Keras variables shaped like the model's variables, in order, "
                "each with a tf.Variable (its .value, with a handle)", f"it is {slots!r}")
    indices = [optimizer._get_variable_index(variable) for variable in variables]
    require(indices == [0, 1], ADAM, "Adam._get_variable_index giving a variable's position in build()'s list",
            f"it gives {indices}")

    starts = [np.asarray(variable) for variable in variables]
    gradients = [np.full((2, 3), 2.0, "float32"), np.full(4, -1.0, "float32")]
    try:
        optimizer.apply_gradients(zip(gradients, variables))
    except Exception as error:  # what this Keras does with the update is the finding
        require(False, ADAM, "update_step receiving a variable that has a resource handle and that "
                "_get_variable_index knows", f"a step raised {error!r}")
    expected = {"the variables": [start - 0.1 * np.sign(g) for start, g in zip(starts, gradients)],  # lr · sign(g)
                "Adam._momentums": [0.2 * g for g in gradients], "Adam._velocities": [0.1 * g ** 2 for g in gradients]}
    held = {"the variables": variables, "Adam._momentums": optimizer._momentums,
            "Adam._velocities": optimizer._velocities}
    for name, values in expected.items():
        found = [np.asarray(variable) for variable in held[name]]
        require(all(np.allclose(f, e) for f, e in zip(found, values)), ADAM,
                f"ResourceApplyAdam's update through the handles being what Keras holds in {name}",
                f"after one step Keras holds {found}, not {values}")


def _weight_paths(path):
    """The names of every group and data set in a ``.weights.h5`` file, sorted."""
    with h5py.File(path, "r") as file:
        names = []
        file.visit(names.append)
    return sorted(names)


def test_sub_pixel_layer_saves_and_loads_under_the_name_of_keras_conv2d_transpose(tmp_path):
    """Keras stores a layer's weights under its class's ``__name__``, so a model with the sub-pixel layer and one
    with Keras' ``Conv2DTranspose`` store theirs under the same paths; a saved config, whose ``class_name`` is then
    ``Conv2DTranspose``, loads as the class its ``registered_name`` names."""

    def model(layer_class, **kwargs):
        inputs = keras.Input((4, 4, 2))
        return keras.Model(inputs, layer_class(3, 3, strides=2, padding="same", **kwargs)(inputs))

    fast, plain = model(SubPixelConv2DTranspose, sub_pixel=True), model(keras.layers.Conv2DTranspose)
    fast.save_weights(tmp_path / "fast.weights.h5")
    plain.save_weights(tmp_path / "plain.weights.h5")
    fast_paths, plain_paths = _weight_paths(tmp_path / "fast.weights.h5"), _weight_paths(tmp_path / "plain.weights.h5")
    require(fast_paths == plain_paths and any("conv2d_transpose" in p for p in fast_paths), CLASS_NAME,
            "Keras storing a layer's weights under the snake case of its class's __name__",
            f"the sub-pixel layer's paths are {fast_paths}, Conv2DTranspose's {plain_paths}")
    plain.load_weights(tmp_path / "fast.weights.h5")
    require(all(np.array_equal(a, b) for a, b in zip(plain.get_weights(), fast.get_weights(), strict=True)),
            CLASS_NAME, "the weights of a sub-pixel model loading into a plain one", "they differ after loading")

    config = keras.saving.serialize_keras_object(fast.layers[-1])
    try:
        again = keras.saving.deserialize_keras_object(config)
    except Exception as error:  # what this Keras does with the config is the finding
        again = error
    require(config["class_name"] == "Conv2DTranspose" and type(again) is SubPixelConv2DTranspose, CLASS_NAME,
            "Keras loading a config as the class its registered_name names, whatever its class_name",
            f"the config {config['class_name']!r} ({config.get('registered_name')!r}) loads as {again!r}")


def test_sub_pixel_fast_path_reads_the_attributes_keras_normalizes():
    """``_convolution_form`` and ``call`` read ``Conv2DTranspose``'s attributes as Keras normalizes the
    arguments, and ``activation="relu"`` as the function ``keras.activations.relu`` itself."""
    layer = SubPixelConv2DTranspose(4, 3, strides=2, padding="SAME", activation="relu", dtype="mixed_bfloat16")
    found = {name: getattr(layer, name, None) for name in
             ("compute_dtype", "strides", "kernel_size", "dilation_rate", "padding", "output_padding", "data_format")}
    expected = {"compute_dtype": "bfloat16", "strides": (2, 2), "kernel_size": (3, 3), "dilation_rate": (1, 1),
                "padding": "same", "output_padding": None, "data_format": "channels_last"}
    require(found == expected and layer._convolution_form() == "stride2", FAST_PATH,
            f"Conv2DTranspose normalizing its arguments to {expected}", f"it holds {found}")
    require(getattr(layer, "activation", None) is keras.activations.relu, FAST_PATH,
            "Conv2DTranspose keeping activation='relu' as keras.activations.relu itself",
            f"it holds {getattr(layer, 'activation', None)!r}")


@pytest.mark.slow  # starts a fresh Python: Keras is imported only once per process
def test_import_hook_sees_keras_load_through_the_loader_it_wraps():
    """In a fresh interpreter, ``import vae_tutorial`` leaves Keras unimported; ``import keras`` then runs through
    the hook's loader, which wraps the one ``PathFinder`` found, and afterwards the registering modules are
    imported and Keras finds the package's classes by their registered names."""
    code = """
import json, sys
import vae_tutorial
from vae_tutorial import keras_hook
before = sorted(name for name in ("keras", "tensorflow") if name in sys.modules)
import keras
loaders = {name: [type(sys.modules[name].__loader__).__name__,
                  hasattr(getattr(sys.modules[name].__loader__, "loader", None), "exec_module")]
           for name in ("keras", "tensorflow")}
print(json.dumps({"package": vae_tutorial.__file__, "before": before, "loaders": loaders,
                  "imported": [name in sys.modules for name in keras_hook.REGISTERING_MODULES],
                  "registered": [keras.saving.get_registered_object(f"vae_tutorial>{name}") is not None
                                 for name in ("VAE", "FusedAdam", "SubPixelConv2DTranspose")]}))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    require(result.returncode == 0, IMPORT_HOOK, "`import vae_tutorial` then `import keras` running Keras' import "
            "through the loader it wraps", f"that fresh interpreter failed:\n{result.stderr[-2000:]}\n")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(ROOT), f"the fresh interpreter imported {found['package']}"
    require(found["before"] == [], IMPORT_HOOK, "`import vae_tutorial` leaving Keras and TensorFlow unimported",
            f"{found['before']} were imported with it")
    wrapped = {name: ["_Loader", True] for name in ("keras", "tensorflow")}
    require(found["loaders"] == wrapped, IMPORT_HOOK,
            "Keras and TensorFlow loading through the loader PathFinder finds for them, which it wraps as _Loader",
            f"[their loader's class, whether it wraps one with exec_module] are {found['loaders']}")
    require(all(found["imported"]) and all(found["registered"]), IMPORT_HOOK,
            "importing the registering modules once Keras is loaded",
            f"after `import keras`, imported {found['imported']}, registered {found['registered']}")


def test_each_hook_comment_and_the_docs_name_the_checked_keras_versions():
    """Wherever the hooks' files and docs/speed-ups.md say "checked against", the versions named are those in
    ``CHECKED_KERAS``, and each of them says it at least once."""
    for path in (*HOOK_FILES, "docs/speed-ups.md"):
        text = re.sub(r"\s*\n\s*#?\s*", " ", (ROOT / path).read_text())  # comment lines joined
        named = [text[match.end():match.end() + len(CHECKED) + 6] for match in re.finditer(r"checked against ", text)]
        assert named and all(n.startswith(f"Keras {CHECKED}") for n in named), \
            f"{path} names the checked versions as {named}; vae_tutorial.fast.CHECKED_KERAS says Keras {CHECKED}"
