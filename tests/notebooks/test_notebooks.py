"""The notebooks run top to bottom with SMALL settings and produce their figures."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
# notebook -> files (glob patterns) it must leave under its WORKDIR
EXPECTED = {
    "01_quickstart": ["dice_per_structure.png", "unet-scse/results/summary.json"],
    "02_reproduce_scse_table": ["report/report.md", "report/boxplot_*_unet.png", "report/learning_curves_*.png",
                                "runs/*seed1*/results/training.json"],
    "03_attention_maps": ["attention_maps.png"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_notebook_runs_and_writes_figures(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MEDSEG_NOTEBOOK_WORKDIR", str(tmp_path))
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(REPO)}}).execute()
    for pattern in EXPECTED[name]:
        found = [p for p in (tmp_path / name).glob(pattern) if p.stat().st_size > 0]
        assert found, f"{name} did not write {pattern}"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
