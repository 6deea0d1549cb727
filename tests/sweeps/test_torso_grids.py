"""The Visceral recipes run on the torsos from real CT by default; the torso grid expands as intended."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from medseg.engine.cli import run_lightning_cli
from medseg.sweep import expand, load_grid

EXPERIMENTS = Path(__file__).parents[2] / "experiments" / "scse_miccai2018"


def test_torso_grid_is_quicknat16_none_vs_scse_and_the_control_by_three_seeds():
    grid = load_grid(EXPERIMENTS / "torso.yaml")
    runs = expand(grid, "runs")
    cells = Counter((r.config["model"]["network"]["attention"], r.config["model"]["network"]["options"]["features"],
                     r.config["seed_everything"]) for r in runs)  # fmt: skip
    expected = {(a, f, s) for a, f in (("none", 16), ("scse", 16), ("none", 8)) for s in (0, 1, 2)}
    assert len(runs) == 9 and set(cells) == expected
    assert grid["checkpoint"] == "best.ckpt"
    for run in runs:
        c = run.config
        assert c["model"]["network"]["name"] == "quicknat" and c["model"]["network"]["options"]["kernel_size"] == 5
        assert c["data"]["manifest"] == "data/torso/dataset.json" and c["data"]["plane"] == "axial"
        assert c["data"]["normalize"] == "window" and c["selection"]["monitor"] == "val/mean_dice"


@pytest.mark.parametrize("base", ["base_torso.yaml", "base_visceral.yaml"])
def test_visceral_bases_default_to_the_torsos_axial_ct_window(base, capsys):
    with pytest.raises(SystemExit) as stop:
        run_lightning_cli(["fit", "--config", str(EXPERIMENTS / base), "--print_config"])
    assert stop.value.code == 0
    data = yaml.safe_load(capsys.readouterr().out)["data"]
    assert data["manifest"] == "data/torso/dataset.json" and data["plane"] == "axial"
    assert data["normalize"] == "window" and data["window"] == [-1000.0, 1000.0]


def test_visceral_paper_grid_runs_on_the_torsos():
    runs = expand(load_grid(EXPERIMENTS / "visceral.yaml"), "runs")
    assert len(runs) == 16 and {r.config["data"]["manifest"] for r in runs} == {"data/torso/dataset.json"}
