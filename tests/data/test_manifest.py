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


def _rewrite(path, edit):
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("sid", ["../../../data/x/imagesTs/s005", "a/b", "..", ".hidden", "a\\b", "two words", ""])
def test_path_like_subject_ids_are_refused_everywhere_issue25_defect11(small_manifest, capsys, sid):
    """issue 25 defect 11: an id with ``/`` or ``../`` made predict write outside D/predictions (it overwrote an
    input image). The manifest rule refuses it, so data check, fit, test and predict (all load_manifest) do."""
    from medseg.cli import main
    from medseg.data import SegmentationDataModule

    _rewrite(small_manifest, lambda d: d["test"][0].update(id=sid))
    code = main(["data", "check", str(small_manifest)])
    assert code == 1 and f"test[0]: subject id {sid!r} is not a plain file name" in capsys.readouterr().err
    with pytest.raises(ManifestError, match=r"test\[0\]: subject id .* is not a plain file name"):
        SegmentationDataModule(str(small_manifest))


@pytest.mark.parametrize("sid", ["1000_3", "PATIENT_1", "s001.v2", "BraTS-GLI-00000-000", "_x+1"])
def test_plain_subject_ids_are_accepted_issue25_defect11(small_manifest, sid):
    _rewrite(small_manifest, lambda d: d["test"][0].update(id=sid))
    assert load_manifest(small_manifest).splits["test"][0].id == sid


@pytest.mark.parametrize("spelling", ["s0_img.nii.gz", "./s0_img.nii.gz", "sub/../s0_img.nii.gz"])
def test_one_image_under_two_ids_is_refused_issue25_defect7(small_manifest, capsys, spelling):
    """issue 25 defect 7: one scan listed under two ids (train/test leakage) passed data check."""
    from medseg.cli import main
    from medseg.data import SegmentationDataModule

    (small_manifest.parent / "sub").mkdir()
    _rewrite(small_manifest, lambda d: d["test"][0].update(image=spelling))
    code = main(["data", "check", str(small_manifest)])
    err = capsys.readouterr().err
    assert code == 1 and f"test[0]: image {spelling!r} of subject 's3' is the same file as the image of training[0] (subject 's0')" in err
    with pytest.raises(ManifestError, match=r"test\[0\]: image .* same file as the image of training\[0\]"):
        SegmentationDataModule(str(small_manifest))
