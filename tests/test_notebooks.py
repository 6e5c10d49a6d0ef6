"""The notebooks run top to bottom on the embedded data, and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient", reason="nbclient is in the `test` extra")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_the_five_notebooks_are_there():
    assert NAMES == [
        "01_quickstart.ipynb",
        "02_annual_siting_report.ipynb",
        "03_four_synchronizations_check.ipynb",
        "04_your_own_city.ipynb",
        "05_many_districts.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: strip outputs before committing"
            assert cell.execution_count is None, f"{name}: strip execution counts"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_holds_no_library_code(name):
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert "import planning" in code or "from planning" in code
    for line in code.splitlines():
        assert not line.lstrip().startswith(("def ", "class ")), f"{name}: {line}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNING_NOTEBOOK_OUT", str(tmp_path))
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, when one fails
    errors = [
        out
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert errors == []
    html = [
        out["data"]["text/html"]
        for cell in book.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type in ("execute_result", "display_data") and "text/html" in out["data"]
    ]
    assert html, f"{name}: no rich output"
    if name != "02_annual_siting_report.ipynb":
        assert any("L.map" in h or "leaflet" in h.lower() for h in html), f"{name}: no map"
