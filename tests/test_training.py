import csv
import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_tutorial.data import find_images, make_pipeline
from vae_tutorial.saving import load_vae
from vae_tutorial.prior import fixed_latents
from vae_tutorial.training import build_vae, epochs_from_env, resume_epoch, train


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
    assert "val_kl_loss" in rows[0] and int(rows[1]["active_units"]) >= 0  # CollapseWatch's, every epoch
    assert json.loads((out / "metrics.json").read_text())["collapsed_epochs"] == []  # tiny run, 8 dims in use
    assert not (out / "backup").exists() and resume_epoch(out) == 0  # removed after a finished run
    for saved, trained in zip(load_vae(out / "model.keras").get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, trained)  # the last epoch's weights (saving.load_vae: float32 model)
    assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temporary files left
    assert list((out / "logs" / "train").glob("events.out.tfevents.*"))  # TensorBoard's
    assert list((out / "logs" / "validation").glob("events.out.tfevents.*"))


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


@pytest.mark.parametrize("damaged, damage", [("latest.weights.h5", b"half-written"),
                                             ("training_metadata.json", b'{"epoch": 2, "ba')])
def test_a_damaged_backup_resumes_from_the_epoch_before(shapes_folder, tmp_path, damaged, damage):
    data = make_pipeline(find_images(shapes_folder, progress=False).paths[:64], batch_size=32)
    out, backup = tmp_path / "run", tmp_path / "run" / "backup"
    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 4, StopAfterEpoch(2))
    assert json.loads((backup / "training_metadata.json.bkp").read_text())["epoch"] == 1
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2 and resume_epoch(out) == 2
    epoch_one = build_vae(latent_dim=8)
    epoch_one.optimizer.build(epoch_one.trainable_variables)
    shutil.copyfile(backup / "latest.weights.h5.bkp", tmp_path / "epoch_1.weights.h5")
    epoch_one.load_weights(tmp_path / "epoch_1.weights.h5")

    (backup / damaged).write_bytes(damage)  # what a kill during Keras' own write leaves
    assert resume_epoch(out) == 1
    resumed = train_64(data, out, 4, StopAfterEpoch(0))
    assert resumed.begun == [1, 2, 3]  # after epoch 1, from the .bkp
    assert [row["epoch"] for row in csv.DictReader(open(out / "history.csv"))] == ["0", "1", "2", "3"]
    assert int(epoch_one.optimizer.iterations) == 2  # 64 images in batches of 32
    for restored, saved in zip(resumed.optimizer_state, epoch_one.optimizer.variables, strict=True):
        np.testing.assert_array_equal(restored, saved)  # Adam's step count and moments resumed too
    assert not backup.exists()  # a finished run keeps no backup


def test_a_backup_with_nothing_whole_starts_afresh(shapes_folder, tmp_path):
    data = make_pipeline(find_images(shapes_folder, progress=False).paths[:64], batch_size=32)
    out, backup = tmp_path / "run", tmp_path / "run" / "backup"
    with pytest.raises(KeyboardInterrupt):
        train_64(data, out, 3, StopAfterEpoch(1))
    (backup / "latest.weights.h5").write_bytes(b"half")  # no .bkp yet after one epoch
    assert resume_epoch(out) == 0
    assert train_64(data, out, 3, StopAfterEpoch(0)).begun == [0, 1, 2]
    assert [row["epoch"] for row in csv.DictReader(open(out / "history.csv"))] == ["0", "1", "2"]


def test_loss_scale_reports_the_terms_and_warns_of_collapse_and_a_per_pixel_mean(tmp_path, capsys):
    from vae_tutorial.evaluation import describe, loss_scale
    from vae_tutorial.model import VAE
    from vae_tutorial.training import report_loss_scale

    images = np.random.default_rng(0).random((6, 64, 64, 3), dtype=np.float32)
    collapsed = VAE(latent_dim=4, seed=0)
    for head in ("mu", "log_var"):  # posterior = prior for every image
        layer = collapsed.encoder.get_layer(head)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    numbers = report_loss_scale(collapsed, tf.data.Dataset.from_tensor_slices(images).batch(4), tmp_path)
    assert numbers == json.loads((tmp_path / "metrics.json").read_text())
    assert numbers["images"] == 6 and numbers["kl"] == 0 and numbers["active_units"] == 0 and numbers["collapsed"]
    assert "posterior has collapsed" in capsys.readouterr().out
    healthy = VAE(latent_dim=4, seed=0)
    head = healthy.encoder.get_layer("mu")
    head.set_weights([w * 300 for w in head.get_weights()])  # codes that vary from image to image
    numbers = loss_scale(healthy, images)
    assert numbers["kl"] > 0 and not numbers["collapsed"]
    # the terms written out in float64: summed squared error of the decoded posterior means, closed-form KL
    mu, log_var = (np.asarray(t, np.float64) for t in healthy.encode(images))
    x_hat = np.asarray(healthy.decoder(mu.astype("float32")), np.float64)
    kl = 0.5 * (mu**2 + np.exp(log_var) - 1.0 - log_var)  # (images, 4)
    assert numbers["reconstruction"] == pytest.approx(np.sum((images - x_hat) ** 2, axis=(1, 2, 3)).mean(), rel=1e-5)
    assert numbers["kl"] == pytest.approx(kl.sum(axis=1).mean(), rel=1e-5)
    assert numbers["kl_per_dimension"] == pytest.approx(kl.mean(), rel=1e-5)  # per image and dimension
    assert "warning" not in describe(numbers)
    healthy.reconstruction_reduction = "mean"  # the same model, scored with a per-pixel mean
    mean = loss_scale(healthy, images)
    assert mean["reconstruction"] == pytest.approx(numbers["reconstruction"] / (64 * 64 * 3), rel=1e-4)
    assert "per-pixel mean" in describe(mean)


def _collapsed(model):
    """``model`` with both encoder heads zeroed: every image's posterior is the prior."""
    for head in ("mu", "log_var"):
        layer = model.encoder.get_layer(head)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    return model


def test_collapse_watch_says_when_the_posterior_collapses_and_when_it_no_longer_is(capsys):
    from vae_tutorial.training import CollapseWatch
    from vae_tutorial.model import VAE

    images = np.random.default_rng(0).random((8, 64, 64, 3), dtype=np.float32)
    healthy = VAE(latent_dim=4, seed=0)
    head = healthy.encoder.get_layer("mu")
    head.set_weights([w * 300 for w in head.get_weights()])  # codes that vary from image to image
    collapsed = _collapsed(VAE(latent_dim=4, seed=0))
    watch = CollapseWatch(images, hint="try something")
    printed = []
    for epoch, model in enumerate([healthy, collapsed, collapsed, healthy, healthy]):
        watch.set_model(model)
        logs = {}
        watch.on_epoch_end(epoch, logs)
        assert logs["active_units"] == (4 if model is healthy else 0)
        assert capsys.readouterr().out == ""  # not while Keras is still printing the epoch's line
        watch.on_epoch_begin(epoch + 1) if epoch < 4 else watch.on_train_end()
        printed.append(capsys.readouterr().out)
    assert watch.collapsed_epochs == [2, 3]
    assert re.fullmatch(r"warning: the posterior collapsed in epoch 2: KL 0 nats per image, 0 of 4 dimensions "
                        r"active, so the decoder ignores z and every image decodes alike; try something\n", printed[1])
    assert re.fullmatch(r"the posterior is no longer collapsed in epoch 4: KL [\d.e+]+ nats per image, 4 of 4 dimensions active\n",
                        printed[3])
    assert printed[0] == printed[2] == printed[4] == ""  # once each
