"""The environment cell (Setup, shared by every notebook) keeps TensorFlow's two start-up notices ("All log
messages before absl::InitializeLog() is called...", "Could not find cuda drivers...") out of the notebook, and
passes on every other line written to the error stream while Keras is imported, each message once."""
import os
import subprocess
import sys

from notebooks import PRESENT, ROOT, code_cells, load

CHILD = r'''
import builtins, os, sys
sys.path.insert(0, {tests!r})
from notebooks import exec_tagged
real_import = builtins.__import__


def noisy_import(name, *args, **kwargs):  # what TensorFlow's C++ start-up writes, twice, and a line that matters
    if name == "keras" and "keras" not in sys.modules:
        for stamp in ("1796221793.484723", "1796221797.599538"):
            os.write(2, ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                         f"I0000 00:00:{{stamp}}   14506 cudart_stub.cc:31] Could not find cuda drivers on your "
                         "machine, GPU will not be used.\n"
                         f"E0000 00:00:{{stamp}}   14506 some_kernel.cc:12] a real error\n").encode())
    return real_import(name, *args, **kwargs)


builtins.__import__ = noisy_import
exec_tagged("assignment1_mnist.ipynb", "config", "environment", namespace={{}})
'''.format(tests=os.path.join(ROOT, "tests"))


def test_start_up_notices_are_held_back_and_other_lines_shown_once(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # as in Colab
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "backend: " in proc.stdout and "seed: 1" in proc.stdout, proc.stdout
    assert "before absl::InitializeLog" not in proc.stderr and "Could not find cuda drivers" not in proc.stderr, proc.stderr
    assert proc.stderr.count("a real error") == 1, f"another line is shown, once:\n{proc.stderr}"


def test_no_start_up_notice_in_committed_outputs():
    for name in PRESENT:
        for cell in code_cells(load(name)):
            text = "".join("".join(out.get("text", "")) for out in cell.get("outputs", []))
            assert "before absl::InitializeLog" not in text and "Could not find cuda drivers" not in text, name


def test_the_suite_backs_up_into_a_folder_of_its_own():
    """conftest.py points EIP4_BACKUP_DIR at this session's temporary folder, whatever was exported (a long
    run's real backup, for instance), so that no smoke run resumes, loads or adds to a real backup."""
    import tempfile

    from notebooks import exec_tagged

    backup = os.environ["EIP4_BACKUP_DIR"]
    assert backup.startswith(tempfile.gettempdir()) and "eip4-synthetic-" in backup, backup
    ns = exec_tagged("assignment1_mnist.ipynb", "config", "environment", namespace={})
    assert ns["backup_dir"] == os.path.join(backup, "assignment1_mnist")
