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


def pytest_unconfigure(config):
    if _tmp:
        shutil.rmtree(_tmp, ignore_errors=True)


def pytest_report_header(config):
    return f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}  (smoke mode, synthetic data)"
