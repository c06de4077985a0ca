"""What a student meets in Colab before any cell runs, and what makes "Run all" a second time safe:
the notebook asks Colab for a GPU, requirements.txt admits nothing older than Colab's versions (the oldest
that CI runs the suite on), and only the configuration cell sets upper-case names, so the configuration that
names a backup is the same on a second Run all in the same kernel. (Run all twice, in a real kernel, on the
path a GPU takes: tests/test_run_all.py.)"""
import ast
import os
import re

import pytest

from notebooks import PRESENT, ROOT, code_cells, load, source


@pytest.mark.parametrize("name", PRESENT)
def test_colab_opens_the_notebook_on_a_gpu(name):
    """Colab reads the runtime it offers from the notebook's metadata; without these keys it opens a CPU one."""
    metadata = load(name)["metadata"]
    assert metadata.get("accelerator") == "GPU", f"{name}: Colab would open it on a CPU runtime"
    assert metadata.get("colab", {}).get("gpuType") == "T4", f"{name}: Colab's free GPU is a T4"


@pytest.mark.parametrize("name", PRESENT)
def test_upper_case_names_are_set_in_the_configuration_cell_only(name):
    """fit_resumable names a backup by every upper-case global (the configuration). A run-time value in an
    upper-case name (a start time, a device) would join that snapshot on a second Run all in the same kernel
    and send it to a new backup, training from zero."""
    elsewhere = set()
    for cell in code_cells(load(name)):
        if "config" in cell["metadata"].get("tags", []):
            continue
        for node in ast.walk(ast.parse(source(cell))):
            targets = [node] if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else []
            targets += [ast.Name(n) for n in getattr(node, "names", []) if isinstance(n, str)]  # global statements
            elsewhere |= {t.id for t in targets if t.id.isupper()}
    assert not elsewhere, f"{name}: upper-case names set outside the configuration cell: {sorted(elsewhere)}"


def pins(path):
    """{package: (operator, version)} for the first bound of each requirement line."""
    found = {}
    for line in open(os.path.join(ROOT, path)):
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(==|>=)\s*([0-9][0-9A-Za-z.]*)", line)
        if match:
            found[match[1].lower()] = (match[2], match[3])
    return found


def version(text):
    return tuple(int(part) for part in re.findall(r"\d+", text))


def test_requirements_admit_nothing_older_than_colab():
    """Every package Colab pins has a lower bound in requirements.txt (or requirements-test.txt) at Colab's
    version or newer: nothing older than the CI leg on Colab's versions has run."""
    colab = pins("requirements-colab.txt")
    ours = {**pins("requirements-test.txt"), **pins("requirements.txt")}
    for package in ("tensorflow", "keras", "numpy", "matplotlib", "opencv-python-headless", "jax"):
        assert colab[package][0] == "==", f"requirements-colab.txt pins {package}"
        assert package in ours and ours[package][0] == ">=", f"{package}: no lower bound"
        assert version(ours[package][1]) >= version(colab[package][1]), \
            f"{package}>={ours[package][1]} admits versions older than Colab's {colab[package][1]}, which no CI leg runs"
