"""``medseg demo --kind torso`` end to end at toy size, on the fake CT archives: absent organs shown as n/a."""

import json

import pytest

from medseg.cli import main
from medseg.data.torso import fetch_scans
from tests.data.torso.conftest import fake_archives  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def test_torso_demo_prints_n_per_structure_and_writes_the_axial_slice(tmp_path, capsys, monkeypatch, fake_archives):  # noqa: F811
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    fetch_scans(downloads=fake_archives)  # the cache the demo then reads (no index needed)
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    assert main(["demo", "--kind", "torso", "--out", str(tmp_path / "demo"), "--subjects", "5", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "falling back" not in out and "automatic TotalSegmentator outputs" in out
    assert "right_rectus_abdominis" in out and "absent from every held-out subject, n=0" in out
    results = tmp_path / "demo" / "run" / "results"
    summary = json.loads((results / "summary.json").read_text(encoding="utf-8"))
    assert summary["per_structure_subjects"]["right_rectus_abdominis"] == 0
    assert summary["per_structure_subjects"]["right_kidney"] == 2  # in both held-out subjects
    assert f"n={summary['per_structure_subjects']['right_kidney']})" in out
    assert (results / "example_slice.png").read_bytes()[:4] == b"\x89PNG"
    config = (tmp_path / "demo" / "run" / "config.yaml").read_text(encoding="utf-8")
    assert "plane: axial" in config and "normalize: window" in config
