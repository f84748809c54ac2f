"""Every example runs as a test: notebooks/what_if.ipynb executes top to bottom."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
WHAT_IF = NOTEBOOKS / "what_if.ipynb"
BUDGET_S = 120


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(WHAT_IF, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    assert all(not c.outputs and c.execution_count is None for c in code), (
        "clear the outputs before committing (jupyter nbconvert --clear-output --inplace)"
    )
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 5  # every step is explained


def test_what_if_notebook_runs(tmp_path: Path) -> None:
    nb = nbformat.read(WHAT_IF, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=BUDGET_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # run from notebooks/
    )
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:  # the failing cell and its traceback
        pytest.fail(f"notebooks/what_if.ipynb failed:\n{exc}")
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_S, f"the notebook took {elapsed:.0f} s (budget {BUDGET_S} s)"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert images >= 3  # workers & latency, the CDF, the heat maps
