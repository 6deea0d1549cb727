import numpy as np
import pytest
from scipy import ndimage

from medseg.data.labels import MALC, VISCERAL, remap_labels
from medseg.data.phantoms import make_phantom

TABLE = {"malc": MALC, "visceral": VISCERAL}


@pytest.mark.parametrize("kind", ["malc", "visceral"])
def test_deterministic_and_seed_dependent(kind):
    a = make_phantom(kind, 24, seed=5)
    b = make_phantom(kind, 24, seed=5)
    c = make_phantom(kind, 24, seed=6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1]) and not np.allclose(a[0], c[0])


@pytest.mark.parametrize("kind", ["malc", "visceral"])
def test_every_structure_present_and_thick_at_64(kind):
    image, raw, affine = make_phantom(kind, 64, seed=0)
    table = TABLE[kind]
    assert set(np.unique(raw)) <= set(table.label_map) | {0}  # raw ids only from the table
    classes = remap_labels(raw, table.label_map)
    assert set(np.unique(classes)) == set(range(table.num_classes))
    for c in range(1, table.num_classes):  # survives one erosion: at least 3 voxels thick somewhere
        assert ndimage.binary_erosion(classes == c).any(), table.names[c]
    assert image.dtype == np.float32 and np.isfinite(image).all() and affine.shape == (4, 4)


def test_malc_uses_neuromorphometrics_cortex_ids():
    _, raw, _ = make_phantom("malc", 32, seed=1)
    cortex = np.unique(raw[raw >= 100])
    assert len(cortex[cortex % 2 == 1]) >= 3 and len(cortex[cortex % 2 == 0]) >= 3


def test_left_right_partners_share_intensity():
    """Not solvable by intensity alone: L/R partners share a tissue value: means differ only by the smooth bias field (< 15 %)."""
    image, raw, _ = make_phantom("malc", 48, seed=2)
    classes = remap_labels(raw, MALC.label_map)
    for left, right in [(1, 3), (2, 4), (8, 21), (10, 23), (15, 25)]:
        ml, mr = image[classes == left].mean(), image[classes == right].mean()
        assert abs(ml - mr) < 0.15 * max(ml, mr)


def test_visceral_in_hounsfield_units():
    image, raw, _ = make_phantom("visceral", 32, seed=0)
    classes = remap_labels(raw, VISCERAL.label_map)
    assert image.min() < -900  # air
    assert -1000 < np.median(image[classes == 8]) < -700  # right lung
    assert 200 < np.median(image[classes == 12]) < 600  # L1 vertebra, bone


def test_any_size_same_layout():
    _, small, _ = make_phantom("malc", 24, seed=3)
    _, large, _ = make_phantom("malc", (48, 48, 48), seed=3)
    down = large[1::2, 1::2, 1::2]
    assert (remap_labels(down, MALC.label_map) == remap_labels(small, MALC.label_map)).mean() > 0.85


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown phantom kind 'mri'"):
        make_phantom("mri", 16, 0)
    with pytest.raises(ValueError, match="at least 8"):
        make_phantom("malc", 4, 0)
