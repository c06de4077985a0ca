"""A notebook's own cells, run in a real Jupyter kernel as Colab's "Run all" runs them, and again in the same
kernel: code a test needs (Colab's choices on a GPU, for instance) runs right after the configuration cell."""
import os

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from notebooks import ROOT


class Kernel:
    """One kernel for one notebook (`with Kernel(name) as kernel:`), in which `run_all()` runs as often as a test likes."""

    def __init__(self, name, timeout=900):
        self.nb = nbformat.read(os.path.join(ROOT, name), as_version=4)
        self.client = NotebookClient(self.nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": ROOT}})
        self.session = self.client.setup_kernel()

    def __enter__(self):
        self.session.__enter__()
        return self

    def __exit__(self, *exception):
        return self.session.__exit__(*exception)

    def run_all(self, prelude="", stop_before=None):
        """Every code cell in order, `prelude` after the configuration cell, until one fails (as Run all stops)
        or until the cell tagged `stop_before`. Returns ({tag or cell number: printed text}, error or None)."""
        printed, error = {}, None
        cells = [cell for cell in self.nb.cells if cell.cell_type == "code"]
        config = next(i for i, cell in enumerate(cells) if "config" in cell.metadata.get("tags", []))
        if prelude:
            cells.insert(config + 1, nbformat.v4.new_code_cell(prelude, metadata={"tags": ["test-prelude"]}))
        for index, cell in enumerate(cells):
            tags = cell.metadata.get("tags", [])
            if stop_before in tags:
                break
            key = next((t for t in tags if not t.startswith("nbval")), index)
            try:
                self.client.execute_cell(cell, index)
            except CellExecutionError as e:
                error = e
            printed[key] = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
            if error:
                printed[key] += str(error)
                break
        return printed, error
