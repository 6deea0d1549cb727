"""``benchmarks/zoo_short_fits.py``: the fit command lines it builds parse as the module's config, and the
validation curve is read back from a CSV log."""

import json
from pathlib import Path

import pytest

from medseg.engine.module import SegmentationModule
from tests.benchmarks.scripts import load_script


def _script():
    return load_script("zoo_short_fits.py")


@pytest.mark.parametrize("network", ["quicknat", "unet"])
def test_every_run_builds_a_module_with_its_heads(network):
    """Each run's overrides, read back from its command line, build the module they describe."""
    zoo = _script()
    args = type("Args", (), {"config": "c.yaml", "manifest": "m.json", "epochs": 1, "extra": []})()
    for run, spec in zoo.RUNS.items():
        command = zoo.fit_args(network, run, args, Path("out"))
        flags = command[command.index("fit") + 1:]
        values = dict(zip(flags[::2], flags[1::2]))
        options = json.loads(values["--model.network.options"])
        placement = json.loads(values.get("--model.network.placement", '"default"'))
        loss = {k.removeprefix("--model.loss."): json.loads(v) for k, v in values.items() if k.startswith("--model.loss.")}
        net = {"name": values["--model.network.name"], "attention": values["--model.network.attention"],
               "placement": placement, "options": {**options, "features": 2}}
        model = SegmentationModule(network=net, num_classes=3, loss=loss)
        assert options["features"] == 16 and options["depth"] == 4
        if run == "deep_supervision":
            assert list(model.net.deep_heads) == ["dec2", "dec3", "dec4"]
        if run == "gau":
            assert type(model.net.gates[0]).__name__ == "GAU"
        if run in ("fpa", "psanet", "danet_head"):
            assert type(model.net.sites["bottleneck"]).__name__ == {"fpa": "FPA", "psanet": "PSANet", "danet_head": "DANetHead"}[run]
        if run in ("encnet", "danet_head"):
            assert any(getattr(m, "has_auxiliary", False) for m in model.net.modules())


def test_validation_curve_reads_the_last_csv_version(tmp_path):
    zoo = _script()
    log = tmp_path / "csv" / "version_1"
    log.mkdir(parents=True)
    (log / "metrics.csv").write_text("epoch,step,train/loss,val/mean_dice\n0,9,1.0,\n0,9,,0.25\n1,19,,0.5\n", encoding="utf-8")
    assert zoo.validation_curve(tmp_path) == [0.25, 0.5]
    assert zoo.validation_curve(tmp_path / "missing") == []
