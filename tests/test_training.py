"""Every notebook's own model and compile call train compiled (on JAX: through jax.jit), a run interrupted
after 2 of 4 epochs resumes with its whole history, and backups never touch files they did not write.
The notebooks' cells are run here as they are (config, helpers, model, training function)."""
import os

import keras
import numpy as np
import pytest

from notebooks import PRESENT, exec_tagged, load

CIFAR = {"assignment3_cifar_separable.ipynb", "assignment4b_resnet18_gradcam.ipynb"}


def notebook(name):
    """The notebook's config, helpers, model and training-function cells, run in one namespace."""
    ns = {"keras": keras, "np": np, "CHANNEL_MEAN": np.full(3, 120.0), "CHANNEL_VAR": np.full(3, 4000.0)}
    precision = ("precision",) if any("precision" in c["metadata"].get("tags", []) for c in load(name)["cells"]) else ()
    return exec_tagged(name, "config", "training-helpers", *precision, "model", "train-function", namespace=ns)


def build(ns):
    return ns["build_model"]() if "build_model" in ns else ns["build_resnet18"]() if "build_resnet18" in ns \
        else keras.models.clone_model(ns["model"])


def tiny_data(name, n=32):
    rng = np.random.default_rng(0)
    if name in CIFAR:
        x = rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32")
    else:
        x = rng.uniform(0, 1, (n, 28, 28, 1)).astype("float32")
    return x, keras.utils.to_categorical(rng.integers(0, 10, n), 10)


class Interrupt(keras.callbacks.Callback):
    """Stands in for a disconnect: training dies once epoch index 1 has finished (2 epochs done)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated disconnect")


class Recorder(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.epochs, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.logs.append(dict(logs))


@pytest.mark.parametrize("name", PRESENT)
def test_train_step_is_compiled(name, monkeypatch):
    """Every layer of the notebook's model supports compilation, so jit_compile="auto" compiles; on JAX
    model.jit_compile is True and the train step fit() runs is really jax.jit-compiled. (One uncompilable
    layer, such as Keras' RandomTranslation, silently turns compilation off for the whole step.)"""
    ns = notebook(name)
    model = ns["model"]
    x, y = tiny_data(name)
    ns["compile_for_training"](model, 1, len(x))
    # What jit_compile="auto" checks (keras/src/trainers/trainer.py, model_supports_jit): every layer.
    uncompilable = [layer.name for layer in model._flatten_layers() if not layer.supports_jit]
    assert not uncompilable, f"{name}: these layers switch compilation of the train step off: {uncompilable}"
    assert not model.run_eagerly
    if keras.backend.backend() == "tensorflow":
        # Keras keeps XLA off on a CPU-only TensorFlow ("Disable XLA on CPU-only machines"); the step is
        # still a compiled tf.function graph there, and XLA is on with a GPU.
        return
    assert model.jit_compile is True, f"{name}: the train step is not compiled (jit_compile={model.jit_compile})"
    import keras.src.backend.jax.trainer as jax_trainer  # the suite runs on TensorFlow and on JAX only

    calls = []
    original = jax_trainer.jit

    def recording_jit(fn, *args, **kwargs):
        compiled = original(fn, *args, **kwargs)

        def run(*a, **k):
            calls.append(getattr(fn, "__name__", repr(fn)))
            return compiled(*a, **k)
        return run

    monkeypatch.setattr(jax_trainer, "jit", recording_jit)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert "train_step" in calls, f"{name}: fit() did not run a jax.jit-compiled train step: {calls}"


@pytest.mark.parametrize("name", PRESENT)
def test_interrupted_run_resumes_with_its_whole_history(name, tmp_path, capsys):
    ns = notebook(name)
    x, y = tiny_data(name)
    backup = str(tmp_path / "root" / "notebook")
    first = Recorder()
    model = build(ns)
    ns["compile_for_training"](model, 4, len(x))
    with pytest.raises(KeyboardInterrupt):
        ns["fit_resumable"](model, x, y, 4, backup, batch_size=16, validation_data=(x, y), verbose=0,
                            callbacks=[first, Interrupt()])
    assert first.epochs == [0, 1], "two epochs ran before the interruption"

    second = Recorder()  # a fresh kernel: a new model, the same backup folder
    model = build(ns)
    ns["compile_for_training"](model, 4, len(x))
    history = ns["fit_resumable"](model, x, y, 4, backup, batch_size=16, validation_data=(x, y), verbose=0,
                                  callbacks=[second])
    assert "continuing at epoch 3 of 4" in capsys.readouterr().out, "a resumed run says where it resumed"
    assert second.epochs == [2, 3], f"resumed at epoch index {second.epochs[:1]}, expected 2"
    assert int(model.optimizer.iterations) == 4 * 2, "the optimizer's step count came back too"
    log = history.history
    assert history.epoch == [0, 1, 2, 3]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
        assert len(log[key]) == 4, f"{key}: {log[key]}"
        assert log[key][:2] == [float(rec[key]) for rec in first.logs], f"{key}: epochs 1-2 are the interrupted run's"
        assert log[key][2:] == [float(rec[key]) for rec in second.logs], key
    assert not os.path.exists(backup) and not os.path.exists(os.path.dirname(backup)), \
        "the folders the backup created are gone once training completes"


@pytest.fixture(scope="module")
def a1():
    return notebook(PRESENT[0])


def small_fit(ns, backup, epochs=1):
    x, y = tiny_data(PRESENT[0], 16)
    model = build(ns)
    ns["compile_for_training"](model, epochs, len(x))
    return ns["fit_resumable"](model, x, y, epochs, backup, batch_size=16, verbose=0)


def test_files_beside_the_backup_survive_a_completed_run(a1, tmp_path):
    root = tmp_path / "MyDrive"
    root.mkdir()
    (root / "thesis.txt").write_text("precious")
    small_fit(a1, str(root / "assignment1_mnist"))
    assert (root / "thesis.txt").read_text() == "precious"
    assert sorted(os.listdir(root)) == ["thesis.txt"], "only what the run created is removed"


def test_a_folder_with_foreign_files_is_refused_and_left_alone(a1, tmp_path):
    folder = tmp_path / "assignment1_mnist"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="holds files this notebook did not write"):
        small_fit(a1, str(folder))
    assert sorted(os.listdir(folder)) == ["notes.txt"] and (folder / "notes.txt").read_text() == "mine"
    # Another program's backup (same file names, but not written by these helpers) is refused too.
    (folder / "notes.txt").unlink()
    (folder / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    with pytest.raises(RuntimeError, match="holds files this notebook did not write"):
        small_fit(a1, str(folder))
    assert os.listdir(folder) == ["training_metadata.json"]


def test_a_file_added_to_the_backup_folder_during_training_survives(a1, tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()  # an empty folder the user made: used, but not removed afterwards

    class DropFile(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            (folder / "added.txt").write_text("user")

    x, y = tiny_data(PRESENT[0], 16)
    model = build(a1)
    a1["compile_for_training"](model, 1, len(x))
    a1["fit_resumable"](model, x, y, 1, str(folder), batch_size=16, verbose=0, callbacks=[DropFile()])
    assert os.listdir(folder) == ["added.txt"]
    (folder / "added.txt").unlink()
    small_fit(a1, str(folder))
    assert folder.is_dir() and not os.listdir(folder), "a folder it did not create is emptied of its files, not removed"


@pytest.fixture(scope="module")
def augment(a1):
    return a1["RandomShiftRotate"]


def test_augmentation_is_off_outside_training_and_identity_at_zero(augment):
    images = np.random.default_rng(1).uniform(0, 1, (8, 28, 28, 3)).astype("float32")
    assert np.array_equal(keras.ops.convert_to_numpy(augment(0.1, 10, flip=True)(images, training=False)), images)
    for layer in (augment(0.0, 0.0), augment(0.0, 1e-9)):  # the separable path and the general one
        assert np.abs(keras.ops.convert_to_numpy(layer(images, training=True)) - images).max() < 1e-5


def test_whole_pixel_shifts_and_flips_keep_every_pixel_value(augment):
    """interpolation="nearest": shifts by whole pixels up to +-shift x size; flips about half the time."""
    images = np.zeros((400, 16, 16, 1), "float32")
    images[:, 6:10, 6:10] = 1.0  # a centred 4x4 square: it stays inside under shifts of up to 4 pixels
    out = keras.ops.convert_to_numpy(augment(4 / 16, interpolation="nearest")(images, training=True))[..., 0]
    assert set(np.unique(out)) <= {0.0, 1.0} and (out.sum(axis=(1, 2)) == 16).all(), "moved, not blurred or cut"
    for axis in (1, 2):
        centre = (out * np.arange(16).reshape((1, 16, 1) if axis == 1 else (1, 1, 16))).sum(axis=(1, 2)) / 16
        shifts = set(np.round(centre - 7.5, 6))
        assert set(range(-3, 4)) <= shifts <= set(range(-4, 5)), f"whole-pixel shifts within +-4: {sorted(shifts)}"
    images = np.zeros((400, 16, 16, 1), "float32")
    images[:, 6:10, 3:5] = 1.0
    out = keras.ops.convert_to_numpy(augment(0.0, flip=True, interpolation="nearest")(images, training=True))
    flipped = np.all(out == images[:, :, ::-1], axis=(1, 2, 3))
    assert (flipped | np.all(out == images, axis=(1, 2, 3))).all(), "each image as it was or mirrored"
    assert 0.4 < flipped.mean() < 0.6


def test_separable_shift_equals_the_general_resampling(augment):
    layer = augment(0.1, 0, flip=True)
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 1, (64, 12, 10, 2)).astype("float32")
    dy, dx = rng.uniform(-1.2, 1.2, (64, 1, 1)).astype("float32"), rng.uniform(-1, 1, (64, 1, 1)).astype("float32")
    mirror = rng.uniform(-1, 1, (64, 1, 1)) < 0
    for interpolation in ("bilinear", "nearest"):
        layer.interpolation = interpolation
        a = keras.ops.convert_to_numpy(layer._shift_separably(images, dy, dx, mirror))
        b = keras.ops.convert_to_numpy(layer._resample(images, np.zeros((64, 1, 1), "float32"), dy, dx, mirror))
        assert np.abs(a - b).max() < 1e-5, interpolation


def test_rotation_stays_within_its_range(augment):
    """A thin horizontal bar through the centre, rotated by up to 6 degrees, tilts by at most 6 degrees."""
    images = np.zeros((200, 41, 41, 1), "float32")
    images[:, 20, 5:36] = 1.0
    out = keras.ops.convert_to_numpy(augment(0.0, 6)(images, training=True))[..., 0]
    ys, xs = np.mgrid[0:41, 0:41]
    angles = []
    for img in out:
        wgt = img / img.sum()
        my, mx = (wgt * ys).sum(), (wgt * xs).sum()
        cov = np.cov(np.stack([xs.ravel() - mx, ys.ravel() - my]), aweights=wgt.ravel())
        angles.append(np.degrees(0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1])))
    angles = np.abs(angles)
    assert angles.max() < 6.5 and angles.max() > 4.0 and angles.min() < 1.5, (angles.min(), angles.max())
