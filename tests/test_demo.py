"""``medseg demo`` end to end at toy size: table, results files, plot, and no lost earlier run."""

import csv
import json

import numpy as np
import pytest

from medseg.cli import main

pytestmark = pytest.mark.slow


def test_demo_twice_prints_table_writes_results_and_keeps_previous_run(tmp_path, capsys, monkeypatch):
    # no cached templates and no package index: the demo says so and falls back to the phantoms
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    args = ["demo", "--out", str(tmp_path), "--subjects", "4", "--size", "16", "--epochs", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "falling back to the geometric phantoms" in out and "could not be fetched" in out
    results = tmp_path / "run" / "results"
    with open(results / "dice_per_structure.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    subject_means = [np.nanmean([float(r["dice"]) for r in rows if r["subject"] == s and r["dice"]])
                     for s in sorted({r["subject"] for r in rows})]
    assert summary["mean_dice"] == pytest.approx(np.mean(subject_means))
    assert f"mean foreground Dice {summary['mean_dice']:.3f}" in out and "Left-Hippocampus" in out
    assert (results / "dice_per_structure.png").read_bytes()[:4] == b"\x89PNG"
    assert (results / "example_slice.png").read_bytes()[:4] == b"\x89PNG"

    assert main(args) == 0
    assert "reusing the subjects" in capsys.readouterr().out
    kept = [p for p in tmp_path.glob("run-*") if (p / "results" / "summary.json").is_file()]
    assert len(kept) == 1 and (kept[0] / "checkpoints" / "last.ckpt").is_file()
    assert (tmp_path / "run" / "results" / "summary.json").is_file()


def test_sigterm_during_the_demo_fit_exits_143_and_reports_nothing(tmp_path, capsys, monkeypatch):
    """A SIGTERM in the fit (Lightning's SIGTERMException, a SystemExit with code None) used to end the demo
    with exit 0; now the demo stops with 143 and neither tests nor prints a table."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    import medseg.engine.cli as engine_cli

    calls = []

    def stopped(args, datamodule_class=None):
        calls.append(args[0])
        raise SIGTERMException()

    monkeypatch.setattr(engine_cli, "run_lightning_cli", stopped)
    args = ["demo", "--kind", "malc", "--out", str(tmp_path), "--subjects", "4", "--size", "16", "--epochs", "1"]
    assert main(args) == engine_cli.SIGTERM_EXIT == 143
    assert calls == ["fit"]  # no test after a stopped fit
    assert not (tmp_path / "run" / "results").exists()
    captured = capsys.readouterr()
    assert "stopped by SIGTERM" in captured.err and "mean foreground Dice" not in captured.out
