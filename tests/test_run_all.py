"""Each notebook as a student runs it in Colab: "Run all" in a real Jupyter kernel on the path the notebook takes
on a GPU (forced on this CPU), then "Run all" again in the same kernel; and a training stopped mid-epoch by the
kernel's interrupt, then "Run all" again. The notebooks' own cells, as they are, in smoke mode."""
import os
import re
import signal
import threading
import time

import pytest

from kernel import Kernel
from notebooks import PRESENT

# What a notebook finds on a GPU, forced on this CPU: a GPU in Keras' device list (so the notebook picks its GPU
# dtype policy, mixed_float16) and XLA for the train step (what jit_compile="auto" picks on TensorFlow with a
# GPU; on JAX it always compiles). predict() also decides one near-tie otherwise than the epoch's evaluation, as
# float16 and XLA may with another batch size: the checks must not depend on the two agreeing.
ON_A_GPU = '''
import keras
keras.distribution.list_devices = lambda device_type=None: ["gpu:0"]
if not hasattr(keras.Model, "compile_on_cpu"):  # patch once, however often Run all runs this cell
    keras.Model.compile_on_cpu, keras.Model.predict_on_cpu = keras.Model.compile, keras.Model.predict

    def compile_as_on_a_gpu(self, *args, jit_compile=True, **kwargs):
        return keras.Model.compile_on_cpu(self, *args, jit_compile=jit_compile, **kwargs)

    def predict_with_a_tie_decided_otherwise(self, x, *args, **kwargs):
        probabilities = keras.Model.predict_on_cpu(self, x, *args, **kwargs)
        if len(probabilities) > 100:  # a whole test set, not a few images for a figure
            probabilities[0] = probabilities[0][::-1]  # another class wins for the first image
        return probabilities

    keras.Model.compile, keras.Model.predict = compile_as_on_a_gpu, predict_with_a_tie_decided_otherwise
'''


def run_folders(text):
    return set(re.findall(r"\beip4-run-[0-9a-f]{12}\b", text))


@pytest.fixture(autouse=True)
def backup_of_its_own(tmp_path, monkeypatch):
    """Each test's kernel backs up into a folder of the test's own (the kernel inherits the environment), so
    that nbval's run of the same notebook trains afresh instead of loading what a test here trained."""
    monkeypatch.setenv("EIP4_BACKUP_DIR", str(tmp_path / "backup"))


@pytest.mark.parametrize("name", PRESENT)
def test_run_all_twice_on_the_path_a_gpu_takes(name):
    """The first Run all trains on the GPU's choices and runs through Grad-CAM and the checks; the second, in
    the same kernel, finds every training finished in its backup, loads it and trains nothing."""
    with Kernel(name) as kernel:
        first, error = kernel.run_all(ON_A_GPU)
        assert error is None, f"{name} fails on the path a GPU takes:\n{error}"
        text = "".join(first.values())
        assert "jit_compile): True" in text, "the train step is compiled with XLA, as on a GPU"
        if "policy" in text:  # the CIFAR-10 notebooks choose a dtype policy for the device
            assert "mixed_float16" in text and "bfloat16" not in text, "float16, as on a T4"
        assert "training afresh" in text and "training already complete" not in text
        second, error = kernel.run_all(ON_A_GPU)
        assert error is None, f"{name} fails when Run all runs again:\n{error}"
        again = "".join(second.values())
        assert "training already complete in the backup" in again, again
        assert "training afresh" not in again and "resuming" not in again, "nothing trained a second time"
        assert run_folders(again) <= run_folders(text), "the same backups, found again"


INTERRUPTIBLE = '''
EPOCHS = 2  # the configuration cell, edited: two epochs, so that one is finished when the second is stopped
import os, pathlib, time, keras
if not hasattr(keras.Model, "fit_unslowed"):
    keras.Model.fit_unslowed = keras.Model.fit

    class SecondEpochUnderWay(keras.callbacks.Callback):  # says when epoch 2 is under way, and makes it last
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            if epoch == 1:
                pathlib.Path({marker!r}).write_text(str(os.getpid()))

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(1.0 if self.epoch == 1 else 0)

    def fit(self, *args, callbacks=(), **kwargs):
        return keras.Model.fit_unslowed(self, *args, callbacks=[*callbacks, SecondEpochUnderWay()], **kwargs)

    keras.Model.fit = fit
'''


def test_run_all_after_an_interrupt_goes_on_after_the_last_finished_epoch(tmp_path):
    """Training is stopped in its second epoch by the kernel's interrupt (SIGINT, as Jupyter's stop button sends
    it to a local kernel); Run all again in the same kernel resumes after epoch 1, in the same backup."""
    marker = tmp_path / "second-epoch-under-way"
    prelude = INTERRUPTIBLE.format(marker=str(marker))

    def interrupt_in_epoch_2():
        deadline = time.time() + 600
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        os.kill(int(marker.read_text()), signal.SIGINT)

    with Kernel(PRESENT[0]) as kernel:
        interrupter = threading.Thread(target=interrupt_in_epoch_2)
        interrupter.start()
        first, error = kernel.run_all(prelude, stop_before="checks")
        interrupter.join()
        assert error is not None and "KeyboardInterrupt" in str(error), f"the training cell was interrupted: {error}"
        assert "training afresh" in first["train"]
        second, error = kernel.run_all(prelude, stop_before="checks")
        assert error is None, error
        train = second["train"]
        assert "epochs 1-1 were trained before, continuing at epoch 2 of 2" in train, train
        assert run_folders(train) == run_folders(first["train"]), "the same backup"
        assert re.findall(r"^Epoch (\d)/2", train, re.M) == ["1", "2"], train
