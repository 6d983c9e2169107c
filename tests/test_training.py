import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_tutorial.data import find_images, make_pipeline
from vae_tutorial.model import load_vae
from vae_tutorial.training import AtomicBackupAndRestore, build_vae, epochs_from_env, fixed_latents, has_bfloat16_units, resume_epoch, train


def test_build_vae_is_compiled_with_adam():
    model = build_vae(latent_dim=4, learning_rate=0.01)
    assert model.compiled and model.built and isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="learning_rate"):
        build_vae(learning_rate=0)


def test_epochs_from_env(monkeypatch):
    monkeypatch.delenv("VAE_TUTORIAL_EPOCHS", raising=False)
    assert epochs_from_env(50) == 50
    monkeypatch.setenv("VAE_TUTORIAL_EPOCHS", "3")
    assert epochs_from_env(50) == 3
    monkeypatch.setenv("VAE_TUTORIAL_EPOCHS", "zero")
    with pytest.raises(ValueError, match="VAE_TUTORIAL_EPOCHS"):
        epochs_from_env()


def test_fixed_latents_are_fixed():
    np.testing.assert_array_equal(fixed_latents(3, 5, seed=1), fixed_latents(3, 5, seed=1))
    assert fixed_latents(3, 5, seed=1).shape == (3, 5)


def test_train_writes_every_output_and_resumes(shapes_folder, tmp_path):
    paths = find_images(shapes_folder, progress=False).paths
    data = make_pipeline(paths[:96], batch_size=32)
    out = tmp_path / "run"
    model = build_vae(latent_dim=8)
    train(model, data, make_pipeline(paths[96:], 32, shuffle=False), epochs=2, out_dir=out, images_per_epoch=96,
          verbose=0)
    assert sorted(os.listdir(out / "epochs")) == ["epoch_001.png", "epoch_002.png"]
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert [r["epoch"] for r in rows] == ["0", "1"] and float(rows[0]["images_per_second"]) > 0
    assert "val_kl_loss" in rows[0]
    assert not (out / "backup").exists() and resume_epoch(out) == 0  # removed after a finished run
    z = fixed_latents(2, 8)
    np.testing.assert_array_equal(load_vae(out / "model.keras").decoder(z), model.decoder(z))
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporary files left


def test_load_or_train_trains_when_missing_and_loads_when_present(shapes_folder, tmp_path, capsys):
    from vae_tutorial.training import load_or_train

    out = tmp_path / "run"
    trained = load_or_train(out / "model.keras", shapes_folder, epochs=1, out_dir=out, latent_dim=4)
    assert "training a new one for 1 epochs" in capsys.readouterr().out
    assert (out / "model.keras").is_file() and trained.latent_dim == 4
    loaded = load_or_train(out / "model.keras", shapes_folder, epochs=1, out_dir=tmp_path / "unused", latent_dim=4)
    assert "Loaded the trained model" in capsys.readouterr().out
    assert not (tmp_path / "unused").exists()
    z = np.zeros((1, 4), "float32")
    np.testing.assert_allclose(loaded.decoder(z), trained.decoder(z), atol=1e-6)


def test_mixed_bfloat16_training_step_casts_no_activation_to_float32_and_back():
    # Activations cross the layers in bfloat16. The only batch-sized casts left: the images in,
    # the image layer's output to the float32 sigmoid, and that sigmoid's gradient back.
    latent_dim = 8  # casts of mu, log_var and z (64 × latent_dim values) are below the threshold
    model = build_vae(latent_dim=latent_dim, precision="mixed_bfloat16")
    step = tf.function(model.train_step).get_concrete_function(tf.TensorSpec([64, 64, 64, 3], tf.float32))
    casts = [(op.inputs[0].dtype.name, op.outputs[0].dtype.name, tuple(op.inputs[0].shape))
             for op in step.graph.get_operations() if op.type == "Cast"]
    batch_sized = sorted(cast for cast in casts if cast[2][:1] == (64,) and np.prod(cast[2]) > 64 * latent_dim)
    assert batch_sized == [("bfloat16", "float32", (64, 64, 64, 3)),
                           ("float32", "bfloat16", (64, 64, 64, 3)), ("float32", "bfloat16", (64, 64, 64, 3))]


@pytest.mark.parametrize("flags, expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),  # AMD Zen 4
    ("fpu avx512f avx512_bf16 amx_bf16 amx_tile amx_int8", True),  # Intel Xeon 4th generation
    ("fpu sse2 avx2 avx512f avx512_vnni avx512_fp16", False),  # AVX-512 without bfloat16
    ("fpu sse2 avx2 fma", False),
])
def test_has_bfloat16_units_reads_the_flags_line_of_cpuinfo(flags, expected):
    cpuinfo = f"processor\t: 0\nmodel name\t: a CPU named amx_bf16 avx512_bf16\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
    assert has_bfloat16_units(cpuinfo) is expected
    assert has_bfloat16_units(cpuinfo.replace("avx512_bf16", "avx512_bf16x").replace("amx_bf16", "amx_bf16x")) is False


def test_precision_mixed_bfloat16_keeps_outputs_and_loss_in_float32(shapes_folder):
    model = build_vae(latent_dim=8, precision="mixed_bfloat16")
    assert model.encoder.get_layer("conv_1").compute_dtype == "bfloat16"
    assert model.encoder.get_layer("conv_1").kernel.dtype == "float32"  # weights stay float32
    assert keras.config.dtype_policy().name == "float32"  # the global policy is untouched
    images = np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)
    x_hat, mu, log_var = model(images)
    assert x_hat.dtype == mu.dtype == log_var.dtype == "float32"
    loss = model.fit(images, epochs=1, batch_size=4, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    assert build_vae(latent_dim=8, precision="float32").encoder.get_layer("conv_1").compute_dtype == "float32"
    with pytest.raises(ValueError, match="precision"):
        build_vae(precision="float16")
    assert model.encoder.inputs[0].dtype == model.decoder.inputs[0].dtype == "bfloat16"
    with pytest.raises(ValueError, match="strategy"):
        build_vae(strategy="tpu")


class StopAfterEpoch(keras.callbacks.Callback):
    """Interrupts training once epoch ``epochs`` has ended (after train's own callbacks)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs, self.begun = epochs, []

    def on_train_begin(self, logs=None):  # after train's callbacks: the backup is restored
        self.optimizer_state = [np.asarray(v) for v in self.model.optimizer.variables]

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def train_64(data, out, epochs, stop):
    """``train`` a latent-8 VAE on ``data`` (64 images) into ``out`` with the callback ``stop``; returns ``stop``."""
    train(build_vae(latent_dim=8), data, epochs=epochs, out_dir=out, images_per_epoch=64, verbose=0,
          extra_callbacks=[stop])
    return stop


def with_training_state(path):
    """A latent-8 VAE with the weights and optimizer state saved in ``path``."""
    model = build_vae(latent_dim=8)
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)
    return model


@pytest.mark.parametrize("damaged, damage", [("latest.keras", b"half-written"),
                                             ("training_metadata.json", b'{"epoch": 2, "ba')])
def test_backup_keeps_the_epoch_before_and_resumes_from_it_when_the_latest_is_damaged(shapes_folder, tmp_path,
                                                                                       damaged, damage):
    data = make_pipeline(find_images(shapes_folder, progress=False).paths[:64], batch_size=32)
    out, backup = tmp_path / "run", tmp_path / "run" / "backup"

    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 4, StopAfterEpoch(1))
    latest, previous = backup / "latest.keras", backup / "latest.keras.bkp"
    assert os.path.samefile(latest, out / "model.keras")  # the checkpoint, written once, under two names
    after_one, inode_one = latest.read_bytes(), os.stat(latest).st_ino
    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 4, StopAfterEpoch(2))
    assert previous.read_bytes() == after_one != latest.read_bytes()
    assert os.path.samefile(latest, out / "model.keras") and not os.path.samefile(latest, previous)
    assert os.stat(previous).st_ino == inode_one  # kept by a link, not copied
    assert json.loads((backup / "training_metadata.json.bkp").read_text())["epoch"] == 1
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    (backup / damaged).write_bytes(damage)  # latest.keras is model.keras too: damaged with it
    assert resume_epoch(out) == 1
    restore = AtomicBackupAndRestore(str(backup), out / "model.keras")
    restore.set_model(build_vae(latent_dim=8))
    restore.on_train_begin()
    assert load_vae(out / "model.keras").latent_dim == 8 and resume_epoch(out) == 1  # mended from the .bkp
    resumed = train_64(data, out, 4, StopAfterEpoch(0))
    assert resumed.begun == [1, 2, 3]  # resumed after epoch 1, from the .bkp
    assert [row["epoch"] for row in csv.DictReader(open(out / "history.csv"))] == ["0", "1", "2", "3"]
    (tmp_path / "epoch_1.keras").write_bytes(after_one)
    epoch_one = with_training_state(tmp_path / "epoch_1.keras")
    assert int(epoch_one.optimizer.iterations) == 2  # 64 images in batches of 32
    for restored, saved in zip(resumed.optimizer_state, epoch_one.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored, saved)  # Adam's step count and moments resumed too


def test_a_backup_from_before_the_link_resumes_and_metadata_alone_starts_afresh(shapes_folder, tmp_path):
    data = make_pipeline(find_images(shapes_folder, progress=False).paths[:64], batch_size=32)
    out, backup = tmp_path / "run", tmp_path / "run" / "backup"

    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 3, StopAfterEpoch(1))
    saved = with_training_state(backup / "latest.keras")
    saved.save_weights(backup / "latest.weights.h5")  # the backup's weights as the version before wrote them
    (backup / "latest.keras").unlink()
    assert resume_epoch(out) == 1
    resumed = StopAfterEpoch(2)
    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 3, resumed)
    assert resumed.begun == [1]
    for restored, kept in zip(resumed.optimizer_state, saved.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored, kept)
    assert (backup / "latest.keras").is_file() and resume_epoch(out) == 2

    (backup / "latest.keras").unlink()
    (backup / "latest.keras.bkp").unlink(missing_ok=True)
    (backup / "latest.weights.h5").unlink()  # metadata alone, no weights: nothing to resume from
    assert resume_epoch(out) == 0
    assert train_64(data, out, 3, StopAfterEpoch(0)).begun == [0, 1, 2]
    assert [row["epoch"] for row in csv.DictReader(open(out / "history.csv"))] == ["0", "1", "2"]
