"""A kill at any instant, also in the middle of a save, loses at most the epoch in progress: fit_resumable
(the Setup cell every notebook shares) is run in a child process that is killed with SIGKILL, then run again.

Deterministic kills land at the three delicate points of an epoch's backup (after the log is written but before
the weights are; half-way through writing the weights; after the new weights are in place but before the old
ones are removed), in the middle of training and at the last epoch's backup, where the training becomes
finished; random kills land at random instants while the model trains (each is checked to have done so). After
each kill the backup folder must be consistent, and once a run completes, its history must hold every epoch
exactly once and the optimizer must have taken exactly one epoch's steps per epoch: nothing lost, nothing
trained twice. Then one more run finds the training finished: it trains nothing and writes nothing."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from notebooks import ROOT

EPOCHS, STEPS = 6, 4  # 6 epochs of 4 steps each
CHILD = r'''
import glob, hashlib, json, os, pathlib, re, signal, sys, time
sys.path.insert(0, {tests!r})
import keras
import numpy as np
from notebooks import exec_tagged

mode, at, folder, out = sys.argv[1], int(sys.argv[2]), *sys.argv[3:5]
ns = exec_tagged("assignment1_mnist.ipynb", "training-helpers", namespace=dict(
    glob=glob, hashlib=hashlib, json=json, os=os, pathlib=pathlib, time=time, keras=keras, np=np, re=re, backup_dir=folder,
    config={{}}))
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(10)])
model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(from_logits=True))
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 256)).astype("float32"), keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
saves, save, remove = [0], model.save_weights, os.remove


def kill():
    os.kill(os.getpid(), signal.SIGKILL)


def save_weights(path):  # the backup of epoch `at` is where a kill is injected
    saves[0] += 1
    if saves[0] == at and mode == "after-log":
        kill()
    save(path)
    if saves[0] == at and mode == "during-save":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)  # a half-written file, as a kill during the write leaves
        kill()


def remove_file(path):
    if saves[0] == at and mode == "before-remove":
        kill()
    remove(path)


def fit_then_mark(*args, fit=model.fit, **kwargs):  # training is over once this marker exists
    history = fit(*args, **kwargs)
    pathlib.Path(out + ".fitted").touch()
    return history


class Training(keras.callbacks.Callback):  # marks that training is under way; slows each step for the random kills
    def on_train_batch_end(self, batch, logs=None):
        pathlib.Path(out + ".training").touch()
        time.sleep(float(os.environ.get("CHILD_STEP_SLEEP", 0)))


model.save_weights, os.remove, model.fit = save_weights, remove_file, fit_then_mark
pathlib.Path(out + ".started").touch()
history = ns["fit_resumable"](model, {epochs}, folder, x=x, y=y, batch_size=16, verbose=0, callbacks=[Training()])
with open(out, "w") as f:
    json.dump({{"history": history, "iterations": int(model.optimizer.iterations)}}, f)
'''.format(tests=os.path.join(ROOT, "tests"), epochs=EPOCHS)


@pytest.fixture()
def child(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    folder, out = str(tmp_path / "backup"), str(tmp_path / "out.json")

    def start(mode, at=3, step_sleep=0.0):
        for path in (out, out + ".started", out + ".training", out + ".fitted"):
            if os.path.exists(path):
                os.remove(path)
        return subprocess.Popen([sys.executable, str(script), mode, str(at), folder, out], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CHILD_STEP_SLEEP": str(step_sleep)})

    def run(mode, at=3):
        proc = start(mode, at)
        output, _ = proc.communicate(timeout=300)
        return proc.returncode, output

    return start, run, folder, out


def run_folder(folder):
    """The one configuration's subfolder the child writes (None before it exists)."""
    runs = os.listdir(folder) if os.path.isdir(folder) else []
    assert len(runs) <= 1 and all(name.startswith("eip4-run-") for name in runs), runs
    return os.path.join(folder, runs[0]) if runs else None


def snapshot(folder):
    return {name: (open(os.path.join(folder, name), "rb").read(), os.stat(os.path.join(folder, name)).st_mtime_ns)
            for name in os.listdir(folder)}


def backup_state(folder):
    """(epochs in the log, epoch of the newest complete weights file) of a backup folder, or (0, 0)."""
    folder = run_folder(folder)
    if folder is None:
        return 0, 0
    names = os.listdir(folder)
    assert all(name.startswith("eip4-") for name in names), names
    log = os.path.join(folder, "eip4-log.json")
    logged = len(json.load(open(log))) if os.path.exists(log) else 0
    weights = max([int(n[11:-11]) for n in names if n.startswith("eip4-epoch-")], default=0)
    return logged, weights


def check_completed(run, folder, out, again=True):
    """The next run completes; and (again=True) the one after it finds the training finished, trains nothing,
    writes nothing."""
    code, output = run("none")
    assert code == 0, output
    result = json.load(open(out))
    assert len(result["history"]["loss"]) == EPOCHS and len(result["history"]["seconds"]) == EPOCHS
    assert result["iterations"] == EPOCHS * STEPS, "every epoch trained exactly once in the final weights"
    assert backup_state(folder) == (EPOCHS, EPOCHS), "the finished training stays in its backup"
    if not again:
        return output
    before = snapshot(run_folder(folder))
    code, again = run("none")
    assert code == 0 and "training already complete in the backup" in again, again
    assert json.load(open(out)) == result, "the same history and optimizer state, and no step trained"
    assert snapshot(run_folder(folder)) == before, "nothing written or removed"
    return output


@pytest.mark.parametrize("at", [3, EPOCHS])
@pytest.mark.parametrize("mode,resumes_after", [("after-log", -1), ("during-save", -1), ("before-remove", 0)])
def test_a_kill_during_a_backup_loses_at_most_that_epoch(child, mode, resumes_after, at):
    start, run, folder, out = child
    code, output = run(mode, at)
    assert code == -signal.SIGKILL, f"the child was to be killed: {code}\n{output}"
    resumes_after += at
    logged, weights = backup_state(folder)
    assert (logged, weights) == (at, resumes_after)
    output = check_completed(run, folder, out, again=at == EPOCHS)  # the finished state: checked where it is made
    if resumes_after < EPOCHS:
        assert f"epochs 1-{resumes_after} were trained before, continuing at epoch {resumes_after + 1} of {EPOCHS}" in output
    else:  # killed after the last epoch's weights were in place: that training is finished
        assert "training already complete in the backup" in output, output


STEP_SLEEP = 0.1  # each of the 4 steps of an epoch takes at least this long in the random-kill runs


def test_kills_at_random_instants(child):
    """Kill the run at random instants while it trains, until it completes; each time, the backup is consistent
    and resuming it loses at most the epoch that was in progress. The kill lands between the end of the first step
    (compilation done) and well before the last: at most 0.85 of the least time the remaining epochs can take."""
    start, run, folder, out = child
    rng = random.Random(os.environ.get("PYTEST_KILL_SEED", 1))
    progress = 0
    for attempt in range(4):
        before = backup_state(folder)
        proc = start("none", step_sleep=STEP_SLEEP)
        while not os.path.exists(out + ".training") and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.85 * (EPOCHS - before[1]) * STEPS * STEP_SLEEP - STEP_SLEEP))
        proc.kill()
        proc.wait()
        assert proc.returncode == -signal.SIGKILL and os.path.exists(out + ".training") \
            and not os.path.exists(out + ".fitted"), "the kill landed while the model was training"
        logged, weights = backup_state(folder)
        assert weights in (logged - 1, logged), f"log and weights disagree by more than one epoch: {logged}, {weights}"
        assert weights >= before[1], "a kill never takes a finished epoch's backup away"
        progress += weights - before[1]
    assert progress >= 1, "the kills let at least one epoch's backup through: they landed after backups, not only before"
    check_completed(run, folder, out)
