"""One rule for `medseg data check` and fit/test/predict (medseg.data.validate): label geometry voxel for
voxel (in world space with reorient_labels), label values, channel count, and an all-empty training set; each error
names the file and the subject, and is raised at data-module setup, before training."""

import json

import nibabel as nib
import numpy as np
import pytest

from medseg.cli import main
from medseg.data import SegmentationDataModule
from medseg.data.readers import write_volume
from medseg.data.validate import DataError

from .conftest import write_subject

SHAPE = (16, 14, 12)  # not cubic, so that a permuted voxel order changes the shape
AFFINE = np.array([[1.0, 0, 0, -8], [0, 1.2, 0, -7], [0, 0, 0.9, -5], [0, 0, 0, 1]])


def _manifest(tmp_path, label_map=True, subjects=4):
    entries = [write_subject(tmp_path, f"s{i}", shape=SHAPE, affine=AFFINE) for i in range(subjects)]
    manifest = {"name": "v", "labels": {"0": "background", "1": "thing", "2": "other"},
                "training": entries[:2], "validation": entries[2:3], "test": entries[3:]}
    if label_map:
        manifest["label_map"] = {"2": 1}
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _resave_label(tmp_path, sid, axcodes):
    """The label in another voxel order (``axcodes``) with the matching affine: same world geometry."""
    label = nib.load(tmp_path / f"{sid}_lbl.nii.gz")
    ornt = nib.orientations.ornt_transform(nib.orientations.io_orientation(label.affine), nib.orientations.axcodes2ornt(axcodes))
    moved = label.as_reoriented(ornt)
    assert nib.aff2axcodes(moved.affine) == tuple(axcodes)
    write_volume(tmp_path / f"{sid}_lbl.nii.gz", np.asarray(moved.dataobj), moved.affine)


def _flip_label_header(tmp_path, sid):
    """An x-flipped header: the same voxels and origin, the x axis pointing the other way (a mirrored grid)."""
    label = nib.load(tmp_path / f"{sid}_lbl.nii.gz")
    affine = label.affine.copy()
    affine[:3, 0] *= -1
    write_volume(tmp_path / f"{sid}_lbl.nii.gz", np.asarray(label.dataobj), affine)


def _check(manifest, capsys):
    code = main(["data", "check", str(manifest)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("axcodes", [("L", "P", "S"), ("P", "I", "L")])
def test_reordered_label_is_refused_unless_reorient_labels_issue25_defect10(tmp_path, capsys, axcodes):
    """issue 25 defect 10: any image/label geometry disagreement is an error by default (nnU-Net, TorchIO);
    ``data.reorient_labels: true`` (``data check --reorient_labels true``) accepts a label in another voxel
    order on the same world grid and aligns it to the image."""
    manifest = _manifest(tmp_path)
    reference = SegmentationDataModule(str(manifest), orientation=None).volumes("training")[0].label.copy()
    _resave_label(tmp_path, "s0", axcodes)
    code, text = _check(manifest, capsys)
    assert code == 1 and "s0_lbl.nii.gz: label " in text and "data.reorient_labels: true" in text, text
    with pytest.raises(DataError, match=r"s0_lbl.nii.gz: label .*subject 's0'"):
        SegmentationDataModule(str(manifest)).setup("fit")
    assert main(["data", "check", str(manifest), "--reorient_labels", "true"]) == 0, capsys.readouterr()
    for orientation in (None, "RAS"):  # keeping the image's voxel order, or reorienting both
        dm = SegmentationDataModule(str(manifest), orientation=orientation, reorient_labels=True)
        dm.setup("fit")
        volume = dm.volumes("training")[0]
        expected = reference if orientation is None else np.asarray(
            nib.as_closest_canonical(nib.Nifti1Image(reference, AFFINE)).dataobj)
        np.testing.assert_array_equal(volume.label, expected)


def test_header_mirrored_label_on_a_centred_grid_is_refused_issue25_defect10(tmp_path, capsys):
    """issue 25 defect 10: the x row of the label's affine negated on an origin-centred grid describes the same
    world points in mirrored order; it was accepted as a reordered label and trained on mirrored labels."""
    centred = AFFINE.copy()
    centred[:3, 3] = -(np.asarray(SHAPE) - 1) / 2 * np.diag(AFFINE)[:3]
    entries = [write_subject(tmp_path, f"s{i}", shape=SHAPE, affine=centred) for i in range(3)]
    manifest = tmp_path / "dataset.json"
    manifest.write_text(json.dumps({"name": "v", "labels": {"0": "background", "1": "thing"}, "label_map": {"2": 1},
                                    "training": entries[:2], "validation": entries[2:]}), encoding="utf-8")
    label = nib.load(tmp_path / "s0_lbl.nii.gz")
    mirrored = label.affine.copy()
    mirrored[0] *= -1  # the header's x row negated: x' = -x
    write_volume(tmp_path / "s0_lbl.nii.gz", np.asarray(label.dataobj), mirrored)
    assert set(map(tuple, np.round(nib.affines.apply_affine(mirrored, np.indices(SHAPE).reshape(3, -1).T), 6))) == \
        set(map(tuple, np.round(nib.affines.apply_affine(centred, np.indices(SHAPE).reshape(3, -1).T), 6)))  # same points
    code, text = _check(manifest, capsys)
    assert code == 1 and "s0_lbl.nii.gz: label affine differs from image affine" in text, text
    with pytest.raises(DataError, match=r"s0_lbl.nii.gz: label affine differs .*subject 's0'"):
        SegmentationDataModule(str(manifest)).setup("fit")


def test_flipped_label_header_is_an_error_for_check_and_fit(tmp_path, capsys):
    manifest = _manifest(tmp_path)
    _flip_label_header(tmp_path, "s1")
    code, text = _check(manifest, capsys)
    assert code == 1 and "s1_lbl.nii.gz: label affine differs from image affine" in text and "s1_img.nii.gz" in text
    dm = SegmentationDataModule(str(manifest))
    with pytest.raises(DataError) as error:
        dm.setup("fit")
    message = str(error.value)
    assert "s1_lbl.nii.gz: label affine differs" in message and "s1_img.nii.gz" in message and "'s1'" in message


def _float_label(tmp_path):
    write_volume(tmp_path / "s1_lbl.nii.gz", np.full(SHAPE, 0.5, np.float32), AFFINE)
    return "s1_lbl.nii.gz", "label volume has non-integer values (e.g. 0.5)"


def _class_out_of_range(tmp_path):
    label = np.zeros(SHAPE, np.uint8)
    label[2:6, 2:6, 2:6] = 40
    write_volume(tmp_path / "s0_lbl.nii.gz", label, AFFINE)
    return "s0_lbl.nii.gz", "unknown label id(s) [40], not in class ids 0..2"


def _image_4d(tmp_path):  # two channels, (X, Y, Z, C) in the file, for a one-channel manifest
    nib.save(nib.Nifti1Image(np.ones((*SHAPE, 2), np.float32), AFFINE), tmp_path / "s1_img.nii.gz")
    return "s1_img.nii.gz", "image must be 3D (X, Y, Z) or 4D with 1 channel(s), got 4D shape (16, 14, 12, 2)"


@pytest.mark.parametrize("damage", [_float_label, _class_out_of_range, _image_4d])
def test_bad_training_data_fails_at_setup_naming_file_and_subject(tmp_path, capsys, damage):
    manifest = _manifest(tmp_path, label_map=damage is not _class_out_of_range)
    name, what = damage(tmp_path)
    code, text = _check(manifest, capsys)
    assert code == 1 and f"{name}: {what}" in text, text
    dm = SegmentationDataModule(str(manifest))
    with pytest.raises(DataError) as error:
        dm.setup("fit")
    message = str(error.value)
    assert f"{name}: {what}" in message and f"subject '{name.split('_')[0]}'" in message, message


def test_all_empty_labels_with_drop_background_slices_fails_at_setup(tmp_path):
    manifest = _manifest(tmp_path)
    for sid in ("s0", "s1"):
        write_volume(tmp_path / f"{sid}_lbl.nii.gz", np.zeros(SHAPE, np.uint8), AFFINE)
    SegmentationDataModule(str(manifest)).setup("fit")  # without dropping, empty labels are only a warning
    dm = SegmentationDataModule(str(manifest), drop_background_slices=True)
    with pytest.raises(DataError) as error:
        dm.setup("fit")
    message = str(error.value)
    assert "drop_background_slices" in message and "every training label is empty" in message
    assert "'s0'" in message and "s1_lbl.nii.gz" in message


@pytest.mark.slow
def test_fit_on_a_flipped_label_fails_before_writing_anything(tmp_path):
    import yaml

    from medseg.engine.cli import run_lightning_cli

    manifest = _manifest(tmp_path)
    _flip_label_header(tmp_path, "s0")
    run = tmp_path / "run"
    config = {"trainer": {"default_root_dir": str(run), "max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False},
              "model": {"network": {"name": "unet", "options": {"features": 4, "depth": 2, "kernel_size": 3}}},
              "data": {"manifest": str(manifest), "plane": "axial"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(DataError, match=r"s0_lbl.nii.gz: label affine differs .*s0_img.nii.gz.*subject 's0'"):
        run_lightning_cli(["fit", "--config", str(tmp_path / "config.yaml")])
    assert not (run / "checkpoints").exists() and not (run / "config.yaml").exists()
