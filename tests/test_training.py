"""Every notebook's own model and compile call train compiled (on JAX: through jax.jit), its augmentation
draws new random transformations for every batch, a run interrupted after 2 of 4 epochs resumes with its
whole history and lists each epoch once, a completed training run again is loaded and nothing is trained or
written, a backup is never resumed under another configuration (learning rate, seed) and never touched by it,
and backups never touch files they did not write. The notebooks' cells run here as they are.
(A kill at any instant, also during a save: tests/test_kill.py.)"""
import os
import re

import keras
import numpy as np
import pytest

from notebooks import PRESENT, exec_tagged, load, stand_in_data



def notebook(name):
    """The notebook's config, Setup, model and training cells, run in one namespace on stand-in data."""
    tags = {tag for c in load(name)["cells"] for tag in c["metadata"].get("tags", [])}
    before, after = [t for t in ["precision"] if t in tags], [t for t in ["augmentation"] if t in tags]
    ns = {"keras": keras, "np": np, **stand_in_data(name)}
    return exec_tagged(name, "config", "environment", "training-helpers", *before, "model", *after, "train-function",
                       namespace=ns)


def build(ns):
    return ns["build_model"]() if "build_model" in ns else ns["build_resnet18"]() if "build_resnet18" in ns \
        else keras.models.clone_model(ns["model"])


class Interrupt(keras.callbacks.Callback):
    """Stands in for a disconnect: training dies once epoch index `on` has finished (by default 2 epochs done)."""

    def __init__(self, on=1):
        super().__init__()
        self.on = on

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.on:
            raise KeyboardInterrupt("simulated disconnect")


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
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
    x, y = ns["X_train"], ns["Y_train"]
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
def test_augmentation_draws_anew_for_every_image_and_batch(name):
    """The tf.data pipeline's random layers must not repeat one transformation: a batch of identical images
    comes out as different images, and the same batch augmented twice comes out differently."""
    ns = notebook(name)
    x, y = ns["X_train"][:1], ns["Y_train"][:1]
    batch = np.repeat(x, 16, axis=0), np.repeat(y, 16, axis=0)
    augment = ns["augment"]
    import tensorflow as tf
    dataset = tf.data.Dataset.from_tensors(batch).repeat(2).map(augment)
    one, two = [keras.ops.convert_to_numpy(images) for images, _ in dataset]
    assert one.shape == batch[0].shape
    assert len({image.tobytes() for image in one}) > 8, "identical images should come out differently"
    assert not np.array_equal(one, two), "the same batch, augmented twice, should differ"


def fit_kwargs(ns, x, y, **kw):
    return {"x": x, "y": y, "batch_size": 16, "verbose": 0, **kw}


def snapshot(folder):
    """Every file under folder: its bytes and modification time, to show that nothing was written or removed."""
    return {os.path.relpath(os.path.join(d, f), folder): (open(os.path.join(d, f), "rb").read(),
                                                          os.stat(os.path.join(d, f)).st_mtime_ns)
            for d, _, files in os.walk(folder) for f in files}


def interrupted_then_resumed(ns, backup, **kw):
    """2 of 4 epochs, a simulated disconnect, then a fresh model on the same folder: (first, second, history, model)."""
    x, y = ns["X_train"], ns["Y_train"]
    first = Recorder()
    model = build(ns)
    ns["compile_for_training"](model, 4, len(x))
    with pytest.raises(KeyboardInterrupt):
        ns["fit_resumable"](model, 4, backup, callbacks=[first, Interrupt()], validation_data=(x, y),
                            **fit_kwargs(ns, x, y, **kw))
    assert first.epochs == [0, 1], "two epochs ran before the interruption"
    second = Recorder()  # a fresh kernel: a new model, the same backup folder
    model = build(ns)
    ns["compile_for_training"](model, 4, len(x))
    history = ns["fit_resumable"](model, 4, backup, callbacks=[second], validation_data=(x, y),
                                  **fit_kwargs(ns, x, y, **kw))
    return first, second, history, model


@pytest.mark.parametrize("name", PRESENT)
def test_interrupted_run_resumes_with_its_whole_history(name, tmp_path, capfd):
    ns = notebook(name)
    backup = str(tmp_path / "root" / "notebook")
    first, second, log, model = interrupted_then_resumed(ns, backup, verbose=2)
    out = capfd.readouterr().out
    assert "continuing at epoch 3 of 4" in out, "a resumed run says where it resumed"
    resumed = out[out.index("continuing at epoch 3 of 4"):]
    epochs = re.findall(r"^Epoch (\d+)/4\b", resumed, re.M)
    assert epochs == ["1", "2", "3", "4"], f"the resumed run lists each of the 4 epochs once, in order: {epochs}"
    restored = re.findall(r"^Epoch (\d)/4 \(restored from the backup\) - \d+s - accuracy: [\d.]+ - loss: ", resumed, re.M)
    assert restored == ["1", "2"], "the epochs before the resume, from the backup's log, marked as restored"
    assert second.epochs == [2, 3], f"resumed at epoch index {second.epochs[:1]}, expected 2"
    assert int(model.optimizer.iterations) == 4 * 2, "the optimizer's step count came back too"
    assert len(log["seconds"]) == 4 and all(s > 0 for s in log["seconds"]), "every epoch's wall time"
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(log[key]) == 4, f"{key}: {log[key]}"
        assert log[key][:2] == [pytest.approx(float(rec[key])) for rec in first.logs], f"{key}: epochs 1-2 are the interrupted run's"
        assert log[key][2:] == [pytest.approx(float(rec[key])) for rec in second.logs], key

    # Run again, training complete: loaded as it was, nothing trained, nothing written or removed.
    x, y = ns["X_train"], ns["Y_train"]
    trained = model.predict(x, verbose=0)
    before, third = snapshot(backup), Recorder()
    model = build(ns)
    ns["compile_for_training"](model, 4, len(x))
    again = ns["fit_resumable"](model, 4, backup, callbacks=[third], validation_data=(x, y), **fit_kwargs(ns, x, y))
    assert "training already complete in the backup" in capfd.readouterr().out
    assert third.epochs == [] and int(model.optimizer.iterations) == 4 * 2, "nothing was trained"
    assert snapshot(backup) == before, "nothing was written or removed"
    assert again == log, "the whole history, as the run that trained it returned it"
    np.testing.assert_allclose(model.predict(x, verbose=0), trained, rtol=1e-5, atol=1e-6,
                               err_msg="the final model, as the training left it (weight averages included)")


@pytest.mark.parametrize("change", ["learning rate", "seed", "Keras version"])
def test_another_configuration_never_resumes_a_backup_nor_touches_it(a1, tmp_path, capsys, monkeypatch, change):
    """A finished and an interrupted backup of one configuration; then the notebook runs with another learning
    rate, another seed, or another Keras version (whose weight files and optimizer variables may differ): it
    trains all its epochs afresh, beside them, and leaves both backups exactly as they were."""
    x, y = a1["X_train"][:16], a1["Y_train"][:16]
    backup = str(tmp_path / "assignment1_mnist")
    small_fit(a1, backup, epochs=1)
    model = build(a1)
    a1["compile_for_training"](model, 2, len(x))
    with pytest.raises(KeyboardInterrupt):
        a1["fit_resumable"](model, 2, backup, callbacks=[Interrupt(on=0)], **fit_kwargs(a1, x, y))
    before = snapshot(backup)
    assert len(os.listdir(backup)) == 2, "two configurations, two subfolders"
    capsys.readouterr()
    saved = dict(a1["config"]), a1["PEAK_LR"]
    try:
        if change == "seed":
            a1["config"] = {**a1["config"], "SEED": a1["config"]["SEED"] + 1}  # the configuration cell, edited and run
        elif change == "Keras version":
            monkeypatch.setattr(keras, "__version__", keras.__version__ + ".post1")  # a backup from another Keras
        else:
            a1["PEAK_LR"] = 2 * a1["PEAK_LR"]
        for epochs in (1, 2):
            recorder = Recorder()
            small_fit(a1, backup, epochs=epochs, callbacks=[recorder])
            assert recorder.epochs == list(range(epochs)), f"{change} changed: every epoch trains afresh"
    finally:
        a1["config"], a1["PEAK_LR"] = saved
    out = capsys.readouterr().out
    assert "resuming" not in out and "already complete" not in out and out.count("training afresh") == 2, out
    assert "other configurations' backups beside it, left as they are: 2" in out, out
    after = snapshot(backup)
    assert {path: after[path] for path in before} == before, "the other configurations' backups were not touched"
    assert len(os.listdir(backup)) == 4


@pytest.fixture(scope="module")
def a1():
    return notebook(PRESENT[0])


def small_fit(ns, backup, epochs=1, callbacks=()):
    x, y = ns["X_train"][:16], ns["Y_train"][:16]
    model = build(ns)
    ns["compile_for_training"](model, epochs, len(x))
    return ns["fit_resumable"](model, epochs, backup, callbacks=callbacks, **fit_kwargs(ns, x, y))


def test_files_beside_the_backup_survive_a_completed_run(a1, tmp_path):
    root = tmp_path / "MyDrive"
    root.mkdir()
    (root / "thesis.txt").write_text("precious")
    small_fit(a1, str(root / "assignment1_mnist"))
    assert (root / "thesis.txt").read_text() == "precious"
    assert sorted(os.listdir(root)) == ["assignment1_mnist", "thesis.txt"], "the run adds its own folder, nothing else"


def test_a_folder_with_foreign_files_is_refused_and_left_alone(a1, tmp_path):
    folder = tmp_path / "assignment1_mnist"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="holds files this notebook did not write"):
        small_fit(a1, str(folder))
    assert sorted(os.listdir(folder)) == ["notes.txt"] and (folder / "notes.txt").read_text() == "mine"
    # Another program's backup (Keras' BackupAndRestore writes these names) is refused too.
    (folder / "notes.txt").unlink()
    (folder / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    with pytest.raises(RuntimeError, match="holds files this notebook did not write"):
        small_fit(a1, str(folder))
    assert os.listdir(folder) == ["training_metadata.json"]


def test_a_file_added_to_the_backup_folder_during_training_survives(a1, tmp_path):
    folder = tmp_path / "existing"

    class DropFile(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            (folder / "added.txt").write_text("user")

    small_fit(a1, str(folder), callbacks=[DropFile()])
    assert (folder / "added.txt").read_text() == "user", "the user's file stays"
    assert len(os.listdir(folder)) == 2, "beside the run's own subfolder"
