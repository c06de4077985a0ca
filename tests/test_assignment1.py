"""Assignment 1: the notebook ends with the course's two lines, and its committed run clears our bar."""
import ast
import json
import os

from notebooks import ROOT, code_cells, load, source

NAME = "assignment1_mnist.ipynb"


def test_ends_with_the_assignment_lines():
    last = code_cells(load(NAME))[-1]
    assert source(last).strip() == "score = model.evaluate(X_test, Y_test, verbose=0)\nprint(score)"


def test_committed_run_clears_the_bar():
    last = code_cells(load(NAME))[-1]
    printed = "".join(o.get("text", "") for o in last["outputs"] if o.get("name") == "stdout")
    loss, accuracy = ast.literal_eval(printed.strip())
    assert accuracy > 0.99, "the assignment's own target"
    assert accuracy >= 0.996, "our bar: 99.6 %"
    with open(os.path.join(ROOT, "results", "assignment1_mnist.json")) as f:
        res = json.load(f)
    assert abs(res["final_test_accuracy"] - accuracy) < 5e-5
    assert res["epochs"] <= 10
    assert res["wall_time_s"] <= 300, "full run within 5 minutes on the 2-core CPU"
