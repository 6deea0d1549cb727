"""The realistic-brain grids (issue 11) expand as intended and their base config parses."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from medseg.engine.cli import run_lightning_cli
from medseg.sweep import expand, load_grid

EXPERIMENTS = Path(__file__).parents[2] / "experiments"


def _cells(path):
    runs = expand(load_grid(EXPERIMENTS / path), "runs")
    return runs, Counter((r.config["model"]["network"]["name"], yaml.safe_dump(r.config["model"]["network"]["attention"]))
                         for r in runs)


def _check_protocol(runs):
    for run in runs:
        c = run.config
        assert c["data"]["manifest"] == "data/brain_pv/dataset.json" and c["model"]["loss"]["name"] == "weighted_ce_dice"
        assert c["selection"]["monitor"] == "val/mean_dice" and c["selection"]["patience"] is None  # fixed epochs (issue 21)
        assert c["trainer"]["max_epochs"] == 40
        assert c["selection"].get("best", True) and c["model"]["optimizer"]["scheduler"] == "poly"
    assert sorted(Counter(r.config["seed_everything"] for r in runs).values()) == [len(runs) // 3] * 3


def test_brain_grids_test_the_best_checkpoint():
    for path in ("scse_miccai2018/brain.yaml", "tmi2019/aggregation_brain.yaml"):
        assert load_grid(EXPERIMENTS / path)["checkpoint"] == "best.ckpt"


def test_scse_brain_grid_is_two_networks_by_four_variants_by_three_seeds():
    runs, cells = _cells("scse_miccai2018/brain.yaml")
    # 2 networks x 4 variants + the positive control (U-Net at 8 features, no attention), 3 seeds each
    assert len(runs) == 27 and len(cells) == 8 and set(cells.values()) == {3, 6}
    assert {n for n, _ in cells} == {"unet", "quicknat"}
    control = [r for r in runs if r.config["model"]["network"]["options"]["features"] == 8]
    assert len(control) == 3 and {yaml.safe_dump(r.config["model"]["network"]["attention"]) for r in control} == {yaml.safe_dump("none")}
    _check_protocol(runs)


def test_aggregation_brain_grid_is_quicknat_by_five_variants_by_three_seeds():
    runs, cells = _cells("tmi2019/aggregation_brain.yaml")
    assert len(runs) == 15 and len(cells) == 5 and {n for n, _ in cells} == {"quicknat"}
    aggregations = {r.config["model"]["network"]["attention"]["aggregation"] for r in runs
                    if isinstance(r.config["model"]["network"]["attention"], dict)}
    assert aggregations == {"add", "max", "mul", "concat"}
    _check_protocol(runs)


def test_wall_time_budget_reaches_every_run_config(tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"base": str(EXPERIMENTS / "scse_miccai2018" / "base_brain.yaml"), "root": "r",
                                    "set": {"trainer.max_time": "00:00:15:00"}, "seeds": [0, 1]}))
    assert {r.config["trainer"]["max_time"] for r in expand(load_grid(grid))} == {"00:00:15:00"}


def test_brain_base_config_parses(capsys):
    with pytest.raises(SystemExit) as stop:
        run_lightning_cli(["fit", "--config", str(EXPERIMENTS / "scse_miccai2018" / "base_brain.yaml"), "--print_config"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "weighted_ce_dice" in out
    written = yaml.safe_load((EXPERIMENTS / "scse_miccai2018" / "base_brain.yaml").read_text(encoding="utf-8"))
    assert yaml.safe_load(out)["selection"] == {**yaml.safe_load(out)["selection"], **written["selection"]}


def test_aggregation_grid_reuses_the_scse_tables_quicknat_cells():
    """none and add are brain.yaml's QuickNAT none / scse runs (same canonical configs, so the same hashes),
    and the aggregation grid lists brain.yaml's root under reuse: they are trained once."""
    from medseg.run_identity import canonical_config

    table, _ = _cells("scse_miccai2018/brain.yaml")
    ablation, _ = _cells("tmi2019/aggregation_brain.yaml")
    quicknat = {r.name.rsplit("-", 1)[1]: r for r in table if r.config["model"]["network"]["name"] == "quicknat"}
    shared = [r for r in ablation if r.name.rsplit("-", 1)[1] in quicknat]
    assert sorted(r.name.rsplit("-", 1)[0] for r in shared) == sorted(
        f"{v}-seed{s}" for v in ("none", "scse-add") for s in (0, 1, 2))
    for run in shared:
        assert canonical_config(run.config) == canonical_config(quicknat[run.name.rsplit("-", 1)[1]].config)
    grid = load_grid(EXPERIMENTS / "tmi2019/aggregation_brain.yaml")
    assert grid["reuse"] == [load_grid(EXPERIMENTS / "scse_miccai2018/brain.yaml")["root"]]
