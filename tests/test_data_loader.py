"""The notebooks' data loader: good data loads; every kind of bad input gets one clear message."""
import os

import numpy as np
import pytest

from notebooks import PRESENT, exec_tagged
from synthetic_data import write_synthetic


@pytest.fixture(scope="module")
def loader():
    return exec_tagged(PRESENT[0], "data-loader")


@pytest.fixture()
def data_dir(tmp_path):
    return write_synthetic(str(tmp_path), n_train=40, n_test=20)


@pytest.mark.parametrize("name,image,label", [("mnist", (28, 28), ()), ("cifar10", (32, 32, 3), (1,))])
def test_loads_local_copy(loader, data_dir, name, image, label):
    (x, y), (xt, yt) = loader["load_dataset"](name, data_dir, full=False)
    assert x.shape == (40, *image) and y.shape == (40, *label) and xt.shape == (20, *image)
    assert x.dtype == y.dtype == np.uint8


def test_missing_file(loader, tmp_path):
    with pytest.raises(loader["DataError"]) as e:
        loader["load_dataset"]("mnist", str(tmp_path), full=False)
    msg = str(e.value)
    assert "EIP4_DATA_DIR" in msg and "mnist.npz" in msg and "does not exist" in msg
    assert "x_train (60000, 28, 28) uint8" in msg  # the layout is spelled out


def test_partial_copy_refused_in_full_run(loader, data_dir):
    with pytest.raises(loader["DataError"]) as e:
        loader["load_dataset"]("mnist", data_dir, full=True)
    assert "40 samples, the full data set has 60000" in str(e.value)


@pytest.mark.parametrize("change,expect", [
    (lambda d: d.update(x_train=d["x_train"].astype(np.float32)), "dtypes are float32/uint8"),
    (lambda d: d.update(x_train=d["x_train"][..., None]), "shapes are (40, 28, 28, 1)"),
    (lambda d: d.update(y_test=d["y_test"][:5]), "x_test/y_test"),
    (lambda d: d.pop("y_train"), "lacks y_train"),
])
def test_wrong_arrays(loader, data_dir, change, expect):
    path = os.path.join(data_dir, "mnist.npz")
    with np.load(path) as d:
        arrays = dict(d)
    change(arrays)
    np.savez(path, **arrays)
    with pytest.raises(loader["DataError"]) as e:
        loader["load_dataset"]("mnist", data_dir, full=False)
    assert expect in str(e.value) and "EIP4_DATA_DIR" in str(e.value)
    # one message, no numpy traceback chained to it
    assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__)


def test_not_an_npz(loader, tmp_path):
    (tmp_path / "cifar10.npz").write_bytes(b"not a zip file")
    with pytest.raises(loader["DataError"]) as e:
        loader["load_dataset"]("cifar10", str(tmp_path), full=False)
    assert "could not be read as .npz" in str(e.value)


def test_no_local_copy_and_no_internet(loader, monkeypatch):
    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(loader["keras"].datasets.mnist, "load_data", offline)
    with pytest.raises(loader["DataError"]) as e:
        loader["load_dataset"]("mnist", None)
    msg = str(e.value)
    assert "Could not download mnist" in msg and "point EIP4_DATA_DIR at a folder holding mnist.npz" in msg
