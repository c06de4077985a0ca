"""Assignment 1: the notebook ends with the course's two lines, and its committed run clears our bar."""
import ast
import json
import os

from notebooks import ROOT, code_cells, load, source, stdout

NAME = "assignment1_mnist.ipynb"


def test_ends_with_the_assignment_lines():
    last = code_cells(load(NAME))[-1]
    assert source(last).strip() == "score = model.evaluate(X_test, Y_test, verbose=0)\nprint(score)"


def test_committed_run_clears_the_assignment_and_reports_our_bar():
    last = code_cells(load(NAME))[-1]
    loss, accuracy = ast.literal_eval(stdout(last).strip())
    correct = round(accuracy * 10_000)  # Keras prints float32: 9960/10000 shows as 0.99599999
    assert correct > 9_900, "the assignment's own target: above 99.0 %"
    with open(os.path.join(ROOT, "results", "assignment1_mnist.json")) as f:
        res = json.load(f)
    assert abs(res["final_test_accuracy"] - accuracy) < 5e-5
    assert res["epochs"] <= 10
    # Our 99.6 % bar is reported, not asserted; what the run reported must be what it reached.
    assert res["our_bar_met"] == (correct >= 9_960)
