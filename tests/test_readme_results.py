"""README's results table, results/*.json written by full runs, and CI must all tell the same story."""
import json
import os
import re

from notebooks import NOTEBOOKS, PRESENT, ROOT, code_cells, load, source, stdout, tagged

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def table_rows():
    """{notebook: {column: text}} from the README's results table (the one with a 'Result' column)."""
    lines = [line for line in README.splitlines() if line.startswith("|")]
    header = next(i for i, line in enumerate(lines) if "Result" in line)
    columns = [c.strip() for c in lines[header].strip("|").split("|")]
    rows = {}
    for line in lines[header + 2:]:
        cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|"))))
        name = re.search(r"assignment\w+\.ipynb", cells.get("Notebook", ""))
        if name:
            rows[name.group(0)] = cells
    return rows


def results(notebook):
    path = os.path.join(ROOT, "results", notebook.replace(".ipynb", ".json"))
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def test_every_notebook_has_a_row():
    rows = table_rows()
    assert set(rows) == set(NOTEBOOKS)
    for name in PRESENT:
        assert f"]({name})" in rows[name]["Notebook"], f"{name} exists: link it"


def expected_result(res):
    """The Result cell a results file implies, exactly: the accuracy after the last epoch, and our bar's verdict."""
    return f"**{100 * res['final_test_accuracy']:.2f} %** · bar {'met' if res['our_bar_met'] else 'missed'}"


def test_rows_agree_with_results_files():
    for notebook, row in table_rows().items():
        res = results(notebook)
        if res is None:
            assert "pending" in row["Result"].lower(), f"{notebook}: no results file, so its row must say pending"
            assert not re.search(r"\d %", row["Result"]), f"{notebook}: a pending row claims no figure: {row['Result']}"
            continue
        assert row["Result"] == expected_result(res), (notebook, row["Result"], expected_result(res))
        assert row["Params"] == f"{res['params']:,}", (notebook, row["Params"])
        assert row["Epochs"] == str(res["epochs"]), (notebook, row["Epochs"])
        assert res["mode"] == "full" and len(res["test_accuracy_per_epoch"]) == res["epochs"]
        # exact count of correct answers vs Keras' float32 log of the same last epoch
        assert abs(res["final_test_accuracy"] - res["test_accuracy_per_epoch"][-1]) < 1e-4


def runs_line(notebook):
    """The README's bullet for this notebook in "The runs behind the table", continuation lines joined."""
    label = re.match(r"assignment(\w+?)_", notebook).group(1)
    match = re.search(rf"^- Assignment {label}: (.*?)(?=^- |^$)", README, re.M | re.S)
    assert match, f"the runs paragraph has no line for Assignment {label}"
    return " ".join(match.group(1).split())


def time_figures(seconds):
    """The ways a runs line may state a training time: seconds, minutes or hours, rounded as printed."""
    return {f"{seconds:.0f} s", f"{seconds / 60:.1f} min", f"{seconds / 3600:.1f} hours"}


def test_runs_paragraph_agrees_with_results_files():
    """The machine, the TensorFlow version and each run's training time in "The runs behind the table" are
    those its results file recorded (for several seeds, the range of their times), so a re-run on another
    machine or of other code cannot leave the old figures standing."""
    header = re.search(r"^On a (\d+)-core (.+?) \(.*?\), TensorFlow (\d+\.\d+),", README, re.M)
    assert header, "the runs paragraph opens with the machine and the TensorFlow version"
    cores, cpu, tf_version = header.groups()
    for notebook in NOTEBOOKS:
        res = results(notebook)
        if res is None:
            continue
        assert cpu in res["device"] and f"{cores} cores" in res["device"], (notebook, res["device"])
        assert res["backend"] == "tensorflow" and res["backend_version"].startswith(tf_version + "."), notebook
        line, times = runs_line(notebook), [res["train_time_s"], *res.get("other_seeds_train_time_s", {}).values()]
        stated = time_figures(times[0]) if len(times) == 1 else {f"{min(times):.0f}–{max(times):.0f} s per seed"}
        assert any(re.search(rf"(?<![\d.]){re.escape(figure)}", line) for figure in stated), \
            f"{notebook}: the runs line states none of {stated}: {line}"


def words(text):
    """Whitespace-separated tokens of markdown, code fences excluded."""
    return len(re.sub(r"```.*?```", " ", text, flags=re.S).split())


def test_readme_is_short_and_opens_with_the_table():
    """At most 900 words, the results table within the first 150, each of its cells at most 12 words."""
    assert words(README) <= 900, f"README: {words(README)} words"
    assert words(README[:README.index("\n| Assignment |")]) <= 150, "the results table comes first"
    for notebook, row in table_rows().items():
        for column, cell in row.items():
            assert len(cell.split()) <= 12, f"{notebook}, {column}: {len(cell.split())} words: {cell}"


def test_results_files_match_committed_notebooks():
    """A results file belongs to the committed outputs: full mode, same final accuracy as the checks cell printed."""
    for notebook in NOTEBOOKS:
        res = results(notebook)
        if res is None:
            continue
        nb = load(notebook)
        assert "mode: full" in stdout(tagged(nb, "environment"))
        assert f"final test accuracy: {res['final_test_accuracy']:.4f}" in stdout(tagged(nb, "checks"))
        counts = [c["execution_count"] for c in code_cells(nb)]
        assert counts == list(range(1, len(counts) + 1)), f"{notebook}: not one uninterrupted top-to-bottom run"


def epoch_lines(text):
    """{epoch: [test accuracy printed for it, ...]} from a training cell's log: Keras' "Epoch k/N" line with its
    metrics on the next line, or fit_resumable's "Epoch k/N (restored from the backup) - ..." with them on the line."""
    found = {}
    for match in re.finditer(r"^Epoch (\d+)/\d+(.*?)(?=^Epoch |\Z)", text, re.M | re.S):
        accuracy = re.search(r"val_accuracy: (\d\.\d{4})", match.group(2))
        found.setdefault(int(match.group(1)), []).append(accuracy and float(accuracy.group(1)))
    return found


def test_training_log_shows_every_epoch_once():
    """The committed training cell lists epochs 1 to N, each exactly once (those restored from a backup after a
    resume included), with the test accuracy the results file records for it: no stretch of a resumed run is
    missing from the notebook, and none is shown twice."""
    for notebook in NOTEBOOKS:
        res = results(notebook)
        if res is None:
            continue
        shown = epoch_lines(stdout(tagged(load(notebook), "train")))
        assert sorted(shown) == list(range(1, res["epochs"] + 1)), f"{notebook}: epochs shown: {sorted(shown)}"
        for epoch, accuracies in shown.items():
            expected = round(res["test_accuracy_per_epoch"][epoch - 1], 4)
            assert accuracies == [expected], f"{notebook}, epoch {epoch}: shown {accuracies}, results file {expected}"


def test_title_cell_states_the_run_it_shows():
    """A reader meets the title cell first: with a results file it states that run's final accuracy as
    "**This run: xx.xx %**"; without one it says, in a "Status of this copy" note, why no result is shown. A
    note beside a result may only say that the code changed since that run (its outputs are the earlier code's)."""
    for notebook in NOTEBOOKS:
        res, title = results(notebook), source(load(notebook)["cells"][0])
        if res is None:
            assert "**Status of this copy.**" in title and "This run:" not in title, notebook
        else:
            assert f"**This run: {100 * res['final_test_accuracy']:.2f} %**" in title, notebook
            note = re.search(r"\*\*Status of this copy\.\*\*(.*?)(\n\n|$)", title, re.S)
            assert note is None or "The code changed since this run" in note.group(1), \
                f"{notebook}: a finished run's title still says it is pending"


def test_results_files_come_from_the_committed_configuration():
    """A results file records its run's seed and parameter count: they must be the committed notebook's (the
    config cell's SEED, the seed its environment cell printed, a parameter count its outputs show), so that
    a results file left over from an earlier configuration is caught."""
    for notebook in NOTEBOOKS:
        res = results(notebook)
        if res is None:
            continue
        nb = load(notebook)
        seed = re.search(r"^SEED = (\d+)", source(tagged(nb, "config")), re.M)
        assert seed and int(seed.group(1)) == res["seed"], f"{notebook}: results file from seed {res['seed']}"
        assert re.search(rf"^ *seed: {res['seed']}$", stdout(tagged(nb, "environment")), re.M), notebook
        outputs = "".join(stdout(cell) for cell in code_cells(nb))
        assert f"{res['params']:,} parameters" in outputs or f"parameters: {res['params']:,}" in outputs, notebook


def test_ci_runs_the_readme_test_command():
    command = next(line.strip() for line in README.splitlines() if "requirements-test.txt &&" in line)
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert command in ci.splitlines(), "the README test command must appear verbatim in .ci/run"
    workflow = open(os.path.join(ROOT, ".github", "workflows", "tests.yml"), encoding="utf-8").read()
    assert "bash .ci/run" in workflow
