"""The exploration notebook executes against a sandbox run, so it can never rot."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
def test_explore_notebook_executes(demo_output, monkeypatch) -> None:
    assert demo_output.returncode == 0, demo_output.stderr
    monkeypatch.setenv("TICKET_AUDIT_OUT", str(demo_output.out))
    nb = nbformat.read(NOTEBOOKS / "explore.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "tickets," in text and "findings" in text
