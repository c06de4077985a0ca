"""Helpers for reading the committed notebooks: find cells by tag, run a cell's code in a namespace."""
import ast
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = ["assignment1_mnist.ipynb", "assignment2_mnist_15k.ipynb",
             "assignment3_cifar_separable.ipynb", "assignment4b_resnet18_gradcam.ipynb"]
PRESENT = [n for n in NOTEBOOKS if os.path.exists(os.path.join(ROOT, n))]
# Cells that every notebook carries verbatim, so that a fix in one reaches all of them.
SETUP_TAGS = ["environment", "data-loader", "training-helpers", "results-writer"]  # the Setup section
SHARED_TAGS = SETUP_TAGS + ["layer-table"]  # copied verbatim into every notebook


def load(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return json.load(f)


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def tagged(nb, tag):
    cells = [c for c in nb["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected exactly one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def stdout(cell):
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def exec_tagged(name, *tags, namespace=None):
    """Run the cells with these tags from a notebook, in order, in one namespace; return it."""
    ns = {} if namespace is None else namespace
    nb = load(name)
    for tag in tags:
        exec(compile(source(tagged(nb, tag)), f"{name}[{tag}]", "exec"), ns)
    return ns


def stand_in_data(name, n=32):
    """Small random arrays in the shapes a notebook's model and training cells expect (no real data)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    shape = (32, 32, 3) if "cifar" in name or "resnet" in name else (28, 28, 1)
    x = rng.normal(0, 1, (n, *shape)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, n), 10)
    return {"X_train": x, "Y_train": y, "X_test": x, "Y_test": y}


def code_lines(text):
    """The lines of code in a cell's source as cloc counts Python: not blank, not a comment, not a docstring."""
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = text.splitlines()
    return [line for number, line in enumerate(lines, 1) if line.strip() and not line.strip().startswith("#")
            and not (number in docstrings and (line.strip()[0] in "\"'" or number - 1 in docstrings))]
