from pathlib import Path

import pytest

from medseg.data.labels import MALC
from medseg.data.manifest import ManifestError, load_manifest

TEMPLATES = Path(__file__).parents[2] / "data_manifests"


def test_malc_template_quicknat_protocol(monkeypatch):
    monkeypatch.setenv("MEDSEG_MALC_ROOT", "/data/malc")
    manifest = load_manifest(TEMPLATES / "malc_quicknat.json")
    assert len(manifest.splits["training"]) == 15 and len(manifest.splits["test"]) == 15
    assert manifest.label_map == MALC.label_map and manifest.num_classes == 28
    assert str(manifest.splits["training"][0].image).startswith("/data/malc/")


def test_templates_need_their_root(monkeypatch):
    monkeypatch.delenv("MEDSEG_VISCERAL_ROOT", raising=False)
    with pytest.raises(ManifestError, match="MEDSEG_VISCERAL_ROOT"):
        load_manifest(TEMPLATES / "visceral_ctce_thab.json")
    assert load_manifest(TEMPLATES / "visceral_ctce_thab.json", root="/v").num_classes == 21
