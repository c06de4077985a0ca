"""The notebooks' data loader: good data loads; every kind of bad input gets one clear message that names
the file and the layout it expects."""
import os

import keras
import numpy as np
import pytest

from notebooks import PRESENT, exec_tagged
from synthetic_data import write_synthetic


@pytest.fixture()
def data_dir(tmp_path):
    return write_synthetic(str(tmp_path), n_train=40, n_test=20)


def loader(data_dir, smoke=True):
    return exec_tagged(PRESENT[0], "data-loader", namespace={"keras": keras, "np": np, "os": os,
                                                             "data_dir": data_dir, "SMOKE": smoke})["load_dataset"]


def message(load, name="mnist"):
    with pytest.raises(RuntimeError) as e:
        load(name)
    # one message, no traceback of numpy's or zipfile's chained to it
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)
    return str(e.value)


@pytest.mark.parametrize("name,image,label", [("mnist", (28, 28), ()), ("cifar10", (32, 32, 3), (1,))])
def test_loads_a_local_copy(data_dir, name, image, label):
    (x, y), (xt, yt) = loader(data_dir)(name)
    assert x.shape == (40, *image) and y.shape == (40, *label) and xt.shape == (20, *image) and yt.shape == (20, *label)
    assert x.dtype == y.dtype == np.uint8


def test_a_smoke_run_keeps_512_and_256_images(tmp_path):
    (x, y), (xt, yt) = loader(write_synthetic(str(tmp_path), n_train=600, n_test=300))("mnist")
    assert len(x) == len(y) == 512 and len(xt) == len(yt) == 256


def test_missing_file(tmp_path):
    msg = message(loader(str(tmp_path)))
    assert f"could not load {tmp_path}/mnist.npz (FileNotFoundError" in msg
    assert "x_train (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28), y_test (10000,), all uint8" in msg


def test_partial_copy_refused_in_a_full_run(data_dir):
    msg = message(loader(data_dir, smoke=False))
    assert "holds x_train (40, 28, 28) uint8" in msg and "x_train (60000, 28, 28)" in msg


@pytest.mark.parametrize("change,expect", [
    (lambda d: d.update(x_train=d["x_train"].astype(np.float32)), "x_train (40, 28, 28) float32"),
    (lambda d: d.update(x_train=d["x_train"][..., None]), "x_train (40, 28, 28, 1) uint8"),
    (lambda d: d.update(y_test=d["y_test"][:5]), "y_test (5,) uint8"),
    (lambda d: d.pop("y_train"), "y_train is not a file in the archive"),
])
def test_wrong_arrays(data_dir, change, expect):
    path = os.path.join(data_dir, "mnist.npz")
    with np.load(path) as d:
        arrays = dict(d)
    change(arrays)
    np.savez(path, **arrays)
    msg = message(loader(data_dir))
    assert expect in msg and path in msg and "Expected mnist.npz holding x_train (60000, 28, 28)" in msg


def test_not_an_npz(tmp_path):
    (tmp_path / "cifar10.npz").write_bytes(b"not a zip file")
    msg = message(loader(str(tmp_path)), "cifar10")
    assert "cifar10.npz" in msg and "x_train (50000, 32, 32, 3)" in msg


def test_no_local_copy_and_no_internet(monkeypatch):
    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    msg = message(loader(None))
    assert "could not load keras.datasets.mnist" in msg and "Offline? Set EIP4_DATA_DIR to a folder holding it" in msg
