"""Helpers for reading the committed notebooks: find cells by tag, run a cell's code in a namespace."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = ["assignment1_mnist.ipynb", "assignment2_mnist_15k.ipynb",
             "assignment3_cifar_separable.ipynb", "assignment4b_resnet18_gradcam.ipynb"]
PRESENT = [n for n in NOTEBOOKS if os.path.exists(os.path.join(ROOT, n))]
# Cells that every notebook carries verbatim, so that a fix in one reaches all of them.
SHARED_TAGS = ["environment", "data-loader", "layer-table", "training-helpers", "results-writer"]


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
