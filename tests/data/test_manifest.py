import json

import pytest
from monai.data import load_decathlon_datalist

from medseg.data.manifest import ManifestError, load_manifest, parse_manifest


def test_load_and_monai_compatible(small_manifest):
    manifest = load_manifest(small_manifest)
    assert manifest.num_classes == 2 and manifest.in_channels == 1 and manifest.label_map == {2: 1}
    assert [s.id for s in manifest.splits["training"]] == ["s0", "s1"]
    monai_list = load_decathlon_datalist(str(small_manifest), data_list_key="training")
    assert [d["image"] for d in monai_list] == [str(s.image) for s in manifest.splits["training"]]


def test_syntax_error_names_line(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"name": "x",\n "labels" {}}', encoding="utf-8")
    with pytest.raises(ManifestError, match=r"m.json: JSON syntax error at line 2"):
        load_manifest(path)


def test_issue25_defect19_non_utf8_manifest_names_file_line_and_column(tmp_path, capsys):
    from medseg.cli import main
    from medseg.data.datamodule import SegmentationDataModule

    path = tmp_path / "m.json"
    second = ' "labels": {"0": "background", "1": "Gro'
    path.write_bytes(('{"name": "x",\n' + second).encode() + b"\xdf" + b'e"}}')  # a latin-1 ß
    expected = rf"m.json: not UTF-8 text: byte 0xdf at line 2, column {len(second) + 1} \(save the manifest as UTF-8"
    with pytest.raises(ManifestError, match=expected):
        load_manifest(path)
    with pytest.raises(ManifestError, match=expected):  # fit/test/predict read it the same way
        SegmentationDataModule(str(path))
    with pytest.raises(SystemExit, match=expected):  # medseg data check: one line, non-zero exit
        main(["data", "check", str(path)])


def test_unknown_keys_reported_together(small_manifest):
    data = json.loads(small_manifest.read_text(encoding="utf-8"))
    data["lables"] = {}
    data["training"][0]["mask"] = "x.nii.gz"
    small_manifest.write_text(json.dumps(data), encoding="utf-8")
    _, problems = parse_manifest(small_manifest)
    assert any("unknown key 'lables'" in p for p in problems)
    assert any("training[0]: unknown key(s) ['mask']" in p for p in problems)
    with pytest.raises(ManifestError, match="dataset.json"):
        load_manifest(small_manifest)


def test_bad_labels_and_label_map(small_manifest):
    data = json.loads(small_manifest.read_text(encoding="utf-8"))
    data["labels"] = {"0": "background", "2": "gap"}
    data["label_map"] = {"x": 1}
    small_manifest.write_text(json.dumps(data), encoding="utf-8")
    _, problems = parse_manifest(small_manifest)
    assert any("without gaps" in p for p in problems)
    assert any("label_map entry 'x'" in p for p in problems)


def test_root_from_environment(small_manifest, tmp_path, monkeypatch):
    data = json.loads(small_manifest.read_text(encoding="utf-8"))
    data["root"] = "${MEDSEG_TEST_ROOT}"
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.delenv("MEDSEG_TEST_ROOT", raising=False)
    with pytest.raises(ManifestError, match="MEDSEG_TEST_ROOT"):
        load_manifest(other)
    monkeypatch.setenv("MEDSEG_TEST_ROOT", str(tmp_path / "data"))
    assert load_manifest(other).splits["training"][0].image == tmp_path / "data" / "s0_img.nii.gz"
    assert load_manifest(other, root="/r").splits["training"][0].image.parent.as_posix() == "/r"
