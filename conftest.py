"""Test-suite set-up shared by tests/ and the notebooks that nbval runs from the repository root.

Before anything is collected, the whole session is put in smoke mode on synthetic data:
  EIP4_SMOKE=1       -> notebooks use a few hundred samples and one epoch (same models);
  EIP4_DATA_DIR=tmp  -> notebooks load the synthetic .npz files written here, never the network;
  EIP4_BACKUP_DIR=tmp -> notebooks back up into a folder of this session's, never into a real backup (an
                        exported EIP4_BACKUP_DIR, such as a long run's, is replaced for the session).
The notebook kernels that nbval starts inherit this environment.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "tests"))
from synthetic_data import write_synthetic  # noqa: E402

_tmp = None


def pytest_configure(config):
    global _tmp
    _tmp = tempfile.mkdtemp(prefix="eip4-synthetic-")
    os.environ["EIP4_DATA_DIR"] = write_synthetic(_tmp)
    os.environ["EIP4_SMOKE"] = "1"
    os.environ["EIP4_BACKUP_DIR"] = os.path.join(_tmp, "backup")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(config, items):
    """nbval runs the notebooks on this CPU's path on TensorFlow only: on JAX that path differs from the one the
    kernel tests take (tests/test_run_all.py, a GPU's) in the dtype policy alone, and JAX's CPU convolutions are
    slow (a ResNet18 train step of 256 images, by XLA on a 2-core AVX2 CPU: 35 s on JAX, 11 s on TensorFlow).
    pytest.ini's --dist loadfile keeps each file's tests in one test process (a notebook's cells run in order in
    one kernel); the files that take longest go first, so that neither process waits long on the other at the end.
    (loadgroup would spread them finer, but pytest-xdist 3.8's groups do not reach pytest 9: its node ids ignore
    the group that xdist appends.)"""
    if os.environ.get("KERAS_BACKEND") == "jax":
        config.hook.pytest_deselected(items=[item for item in items if item.path.suffix == ".ipynb"])
        items[:] = [item for item in items if item.path.suffix != ".ipynb"]
    first = ["test_run_all.py", "test_kill.py", "test_training.py", "assignment4b_resnet18_gradcam.ipynb"]
    items.sort(key=lambda item: first.index(item.path.name) if item.path.name in first else len(first))  # stable


def pytest_unconfigure(config):
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


def pytest_report_header(config):
    return f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}  (smoke mode, synthetic data)"
