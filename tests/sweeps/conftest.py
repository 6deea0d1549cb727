"""``sweep_data``: a valid manifest ``m.json`` (the fake grids' ``data.manifest``) in the working directory,
so that the sweep's check of its dataset (medseg.preflight) passes; its files are empty (never read)."""

import json

import pytest


@pytest.fixture
def sweep_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("i.nii.gz", "l.nii.gz"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "m.json").write_text(json.dumps({"labels": {"0": "background", "1": "a"},
                                                 "training": [{"id": "s1", "image": "i.nii.gz", "label": "l.nii.gz"}]}))
    return tmp_path / "m.json"
