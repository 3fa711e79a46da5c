"""docs/tour.ipynb runs from top to bottom in a fresh kernel (nbclient and ipykernel, as in
Jupyter), with no error and nothing on stderr, and shows its reports as rich HTML."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "docs" / "tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    home = tmp_path_factory.mktemp("jupyter")
    patch = pytest.MonkeyPatch()
    # Jupyter's files (connection files, kernel specs looked up) in a temporary folder: the
    # kernel is the one of this interpreter's environment, whatever the machine has elsewhere.
    for variable in ("JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR",
                     "IPYTHONDIR"):
        patch.setenv(variable, str(home / variable.lower()))
    patch.delenv("JUPYTER_PATH", raising=False)
    try:
        notebook = nbformat.read(TOUR, as_version=4)
        # the kernel talks over Unix sockets in that folder, not TCP
        kernel = KernelManager(kernel_name="python3", transport="ipc",
                               ip=str(home / "kernel"))
        client = NotebookClient(notebook, km=kernel, timeout=300, record_timing=False,
                                resources={"metadata": {"path": str(TOUR.parent)}})
        client.execute()
    finally:
        patch.undo()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]


def test_every_cell_runs_without_an_error(executed: nbformat.NotebookNode) -> None:
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    assert [o for o in outputs(executed) if o.output_type == "error"] == []
    assert [o for o in outputs(executed) if o.get("name") == "stderr"] == []


def test_reports_display_as_html(executed: nbformat.NotebookNode) -> None:
    shown = [o.data["text/html"] for o in outputs(executed)
             if o.output_type == "execute_result" and "text/html" in o.get("data", {})]
    gradchecks = [h for h in shown if "gradcheck passed" in h]
    verifications = [h for h in shown if "<svg" in h]
    assert len(gradchecks) == 2  # the softmax regression's and the custom op's
    assert len(verifications) == 3  # the file, the inline derivation, the custom op's
    assert "[batch_sum]" in verifications[0] and "<math" in verifications[0]
    assert all("badge fail" not in h for h in verifications[1:])


def test_the_printed_gradient_agrees_with_the_closed_form(executed: nbformat.NotebookNode) -> None:
    printed = "".join(o.text for o in outputs(executed) if o.output_type == "stream")
    assert "closed form agrees: True" in printed
    assert "b batch_sum" in printed
