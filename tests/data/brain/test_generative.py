"""medseg.data.brain.generative (SynthSeg-style images drawn from labels), on the fake template and atlas."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from medseg.data.brain import make_subject, prepare
from medseg.data.brain.generative import T1_MEANS, synthesise, tissue_groups
from medseg.data.labels import MALC, remap_labels

from .conftest import LEFT_WM, OPTIC_CHIASM, RIGHT_WM, world_grid


def _interior_stats(image: np.ndarray, classes: np.ndarray) -> tuple[float, float, dict[int, float]]:
    """(mean within-class std, std of the class means, class → mean) over classes' interiors (1-voxel erosion:
    partial-volume voxels at boundaries left out), classes with ≥ 20 interior voxels."""
    stds, means = [], {}
    for c in np.unique(classes):
        if c == 0:
            continue
        inside = ndi.binary_erosion(classes == c)
        if inside.sum() >= 20:
            stds.append(image[inside].std())
            means[int(c)] = float(image[inside].mean())
    return float(np.mean(stds)), float(np.std(list(means.values()))), means


@pytest.mark.parametrize("contrast", ["t1", "random"])
def test_generative_images_are_explained_by_their_labels(fake_sources, contrast):
    source = prepare(*fake_sources, 2.0)
    for seed in range(3):
        image, raw = make_subject(source, 2.0, seed, blur=False, image=f"generative_{contrast}")
        assert image.shape == raw.shape == source.image.shape and np.isfinite(image).all()
        classes = remap_labels(raw, MALC.label_map)
        within, between, _ = _interior_stats(image, classes)
        # a bias field (up to ~±25 %) and gamma remain on top of the label Gaussians, so not ≪ but clearly below
        assert within < 0.5 * between, (seed, within, between)
        # outside the brain: 0 plus noise clipped at 0 (skull-stripped), so at most half its voxels are above 0
        assert np.median(image[raw == 0]) < 0.05 * np.median(image[raw > 0])


def test_t1_contrast_orders_tissues_as_a_t1_and_random_contrasts_vary(fake_sources):
    source = prepare(*fake_sources, 2.0)
    wm, cortex = MALC.names.index("Left-Cerebral-White-Matter"), MALC.names.index("Left-Cerebral-Cortex")
    ventricle = MALC.names.index("Left-Lateral-Ventricle")
    for seed in range(3):
        image, raw = make_subject(source, 2.0, seed, blur=False, image="generative_t1")
        classes = remap_labels(raw, MALC.label_map)
        means = _interior_stats(image, classes)[2]
        # the fake's ventricle is too small for an interior: all its voxels (partial volume with WM raises them)
        assert means[wm] > means[cortex] > image[classes == ventricle].mean()
    orders = set()
    for seed in range(6):
        image, raw = make_subject(source, 2.0, seed, blur=False, image="generative_random")
        means = _interior_stats(image, remap_labels(raw, MALC.label_map))[2]
        orders.add(means[wm] > means[cortex])
    assert orders == {True, False}  # random contrasts: WM brighter than cortex in some subjects, darker in others


def test_generative_labels_equal_the_real_modes_labels_and_are_deterministic(fake_sources):
    source = prepare(*fake_sources, 2.0)
    real = make_subject(source, 2.0, 4)
    a, b, c = (make_subject(source, 2.0, s, image="generative_random") for s in (4, 4, 5))
    np.testing.assert_array_equal(real[1], a[1])  # the same warp: labels do not depend on the image mode
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    x = world_grid(source.image.shape, source.affine)[..., 0]
    off = np.abs(x) > 6
    assert np.mean(x[(a[1] == LEFT_WM) & off] < 0) > 0.95 and np.mean(x[(a[1] == RIGHT_WM) & off] > 0) > 0.95


def test_synthesise_draws_one_gaussian_per_group():
    """Groups: MALC classes, then in-brain raw ids mapped to background, each its own; without blur the WM group's
    mean lies within the T1 prior's jitter of its prior mean (float64, 5 standard errors of 32,000 voxels)."""
    raw = np.zeros((40, 40, 40), dtype=np.int64)
    raw[:, :20] = 45  # Left-Cerebral-White-Matter
    raw[:, 20:35] = 101  # a left cortical parcel
    raw[:, 35:38] = OPTIC_CHIASM  # a raw id the table maps to background inside the brain: a group of its own
    groups, names = tissue_groups(raw)
    assert names[groups[0, 0, 0]] == "Left-Cerebral-White-Matter" and names[groups[0, 25, 0]] == "Left-Cerebral-Cortex"
    assert names[groups[0, 36, 0]] == f"raw:{OPTIC_CHIASM}" and groups[0, 39, 0] == 0
    image = synthesise(raw, "t1", 0.0, seed=3).astype(np.float64)
    wm = image[raw == 45]
    assert abs(wm.mean() - T1_MEANS["Cerebral-White-Matter"]) < 0.04 + 5 * wm.std() / np.sqrt(wm.size)
    assert image[raw == 0].max() == 0.0
    with pytest.raises(ValueError, match="contrast"):
        synthesise(raw, "t2", 0.0, seed=0)


def test_unknown_image_mode_is_refused(fake_sources):
    source = prepare(*fake_sources, 2.0)
    with pytest.raises(ValueError, match="brain image must be one of"):
        make_subject(source, 2.0, 0, image="synthseg")
