"""A kill at any instant, also in the middle of a save, loses at most the epoch in progress: fit_resumable
(the Setup cell every notebook shares) is run in a child process that is killed with SIGKILL, then run again.

Deterministic kills land at the three delicate points of an epoch's backup (after the log is written but before
the weights are; half-way through writing the weights; after the new weights are in place but before the old
ones are removed); random kills land wherever they land. After each kill the backup folder must be consistent,
and once a run completes, its history must hold every epoch exactly once and the optimizer must have taken
exactly one epoch's steps per epoch: nothing lost, nothing trained twice."""
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
import glob, json, os, pathlib, signal, sys, time
sys.path.insert(0, {tests!r})
import keras
import numpy as np
from notebooks import exec_tagged

mode, folder, out = sys.argv[1:4]
ns = exec_tagged("assignment1_mnist.ipynb", "training-helpers", namespace=dict(
    glob=glob, json=json, os=os, pathlib=pathlib, time=time, keras=keras, np=np, BACKUP_DIR=folder))
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(1024, activation="relu"), keras.layers.Dense(10)])
model.compile(keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy(from_logits=True))
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 256)).astype("float32"), keras.utils.to_categorical(rng.integers(0, 10, 64), 10)
saves, save, remove = [0], model.save_weights, os.remove


def kill():
    os.kill(os.getpid(), signal.SIGKILL)


def save_weights(path):  # the third backup (epoch 3) is where a kill is injected
    saves[0] += 1
    if saves[0] == 3 and mode == "after-log":
        kill()
    save(path)
    if saves[0] == 3 and mode == "during-save":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)  # a half-written file, as a kill during the write leaves
        kill()


def remove_file(path):
    if saves[0] == 3 and mode == "before-remove":
        kill()
    remove(path)


def fit_then_mark(*args, fit=model.fit, **kwargs):  # training is over once this marker exists
    history = fit(*args, **kwargs)
    pathlib.Path(out + ".fitted").touch()
    return history


model.save_weights, os.remove, model.fit = save_weights, remove_file, fit_then_mark
pathlib.Path(out + ".started").touch()
history = ns["fit_resumable"](model, {epochs}, folder, x=x, y=y, batch_size=16, verbose=0)
with open(out, "w") as f:
    json.dump({{"history": history, "iterations": int(model.optimizer.iterations)}}, f)
'''.format(tests=os.path.join(ROOT, "tests"), epochs=EPOCHS)


@pytest.fixture()
def child(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    folder, out = str(tmp_path / "backup"), str(tmp_path / "out.json")

    def start(mode):
        for path in (out, out + ".started", out + ".fitted"):
            if os.path.exists(path):
                os.remove(path)
        return subprocess.Popen([sys.executable, str(script), mode, folder, out], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

    def run(mode):
        proc = start(mode)
        output, _ = proc.communicate(timeout=300)
        return proc.returncode, output

    return start, run, folder, out


def backup_state(folder):
    """(epochs in the log, epoch of the newest complete weights file) of a backup folder, or (0, 0)."""
    if not os.path.isdir(folder):
        return 0, 0
    names = os.listdir(folder)
    assert all(name.startswith("eip4-") for name in names), names
    log = os.path.join(folder, "eip4-log.json")
    logged = len(json.load(open(log))) if os.path.exists(log) else 0
    weights = max([int(n[11:-11]) for n in names if n.startswith("eip4-epoch-")], default=0)
    return logged, weights


def check_completed(run, folder, out):
    code, output = run("none")
    assert code == 0, output
    result = json.load(open(out))
    assert len(result["history"]["loss"]) == EPOCHS and len(result["history"]["seconds"]) == EPOCHS
    assert result["iterations"] == EPOCHS * STEPS, "every epoch trained exactly once in the final weights"
    assert not os.path.exists(folder), "the backup is deleted once training completes"
    return output


@pytest.mark.parametrize("mode,resumes_after", [("after-log", 2), ("during-save", 2), ("before-remove", 3)])
def test_a_kill_during_a_backup_loses_at_most_that_epoch(child, mode, resumes_after):
    start, run, folder, out = child
    code, output = run(mode)
    assert code == -signal.SIGKILL, f"the child was to be killed: {code}\n{output}"
    logged, weights = backup_state(folder)
    assert (logged, weights) == (3, resumes_after)
    output = check_completed(run, folder, out)
    assert f"epochs 1-{resumes_after} were trained before, continuing at epoch {resumes_after + 1} of {EPOCHS}" in output


def test_kills_at_random_instants(child):
    """Kill the run at random instants until it completes; each time, the backup is consistent and resuming
    it loses at most the epoch that was in progress. A kill that lands after training finished (while the backup
    is being deleted, or while the child exits) may leave any part of the backup, but never one a run cannot
    start from: the run after it must complete."""
    start, run, folder, out = child
    rng = random.Random(os.environ.get("PYTEST_KILL_SEED", 1))
    for attempt in range(4):
        proc = start("none")
        while not os.path.exists(out + ".started") and proc.poll() is None:
            time.sleep(0.01)
        before = backup_state(folder)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.kill()
        proc.wait()
        if os.path.exists(out + ".fitted"):
            break  # training had finished: whatever the kill left must still start a run (check_completed below)
        logged, weights = backup_state(folder)
        assert weights in (logged - 1, logged), f"log and weights disagree by more than one epoch: {logged}, {weights}"
        assert weights >= before[1], "a kill never takes a finished epoch's backup away"
        if proc.returncode == 0:
            break
    check_completed(run, folder, out)
