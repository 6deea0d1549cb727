"""Figures carry the numbers they were given: box medians, heatmap cells."""

import numpy as np
import pytest

from medseg.eval import plots


def test_boxplot_medians_per_structure_and_variant():
    dice = {"none": {"A": [0.5, 0.7, 0.6], "B": [0.2, 0.4, np.nan]}, "scse": {"A": [0.9, 0.8, 0.85], "B": [0.3]}}
    fig = plots.structure_boxplot(dice, ["A", "B"])
    ax = fig.axes[0]
    medians = sorted(round(float(line.get_ydata()[0]), 6) for line in ax.lines
                     if len(line.get_ydata()) == 2 and line.get_ydata()[0] == line.get_ydata()[1]
                     and line.get_color() in ("C1", "#ff7f0e"))
    assert medians == sorted([0.6, 0.3, 0.85, 0.3])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none", "scse"]
    plots.plt.close(fig)


def test_heatmap_shows_values_and_checks_shape():
    values = np.array([[0.01, -0.02], [np.nan, 0.03]])
    fig = plots.placement_heatmap(values, ["enc1", "dec1"], ["mean", "A"])
    image = fig.axes[0].images[0]
    np.testing.assert_array_equal(np.asarray(image.get_array().filled(np.nan)), values)
    assert image.get_clim() == (-0.03, 0.03)
    assert "n/a" in [t.get_text() for t in fig.axes[0].texts]
    plots.plt.close(fig)
    with pytest.raises(ValueError, match=r"shape \(2, 2\), expected \(2, 3\)"):
        plots.placement_heatmap(values, ["enc1", "dec1"], ["mean", "A", "B"])


def test_label_colormap_gives_neighbouring_class_ids_clearly_different_colours():
    cmap = plots.label_colormap(28)
    rgb = np.array([cmap(c / 27)[:3] for c in range(28)])  # as imshow maps ids 0..27 with vmin=0, vmax=27
    assert len({tuple(c) for c in rgb}) == 28
    # neighbouring ids (e.g. left white matter 1 / left cortex 2) at least 0.2 apart in RGB; a continuous
    # map such as nipy_spectral sampled at 28 levels has neighbours 0.06 apart
    assert np.linalg.norm(np.diff(rgb, axis=0), axis=1).min() >= 0.2


def test_label_colours_have_a_hue_that_shows_over_a_grey_image():
    # a grey label (R = G = B) is invisible over MR/CT greys: Visceral's 20 and MALC's 27 classes, and more
    rgb = np.array(plots.label_colours(60)[1:])
    assert (rgb.max(axis=1) - rgb.min(axis=1)).min() > 0.1


def test_segmentation_figure_overlays_reference_and_prediction_ids():
    labels = np.arange(12).reshape(3, 4) % 5
    fig = plots.segmentation_figure(np.ones((3, 4)), labels, (labels + 1) % 5, num_classes=5)
    overlays = [ax.images[1].get_array() for ax in fig.axes[1:]]
    np.testing.assert_array_equal(overlays[0].filled(0), labels.T)  # background (0) is masked out
    np.testing.assert_array_equal(overlays[1].filled(0), ((labels + 1) % 5).T)
    assert overlays[0].mask.sum() == (labels == 0).sum()
    plots.plt.close(fig)


@pytest.mark.parametrize("codes, flips, sides", [
    (("R", "A"), (True, False), ("R", "L", "A", "P")),   # RAS axial: array x runs to the patient's right
    (("L", "P"), (False, True), ("R", "L", "A", "P")),   # LPS axial (DICOM order)
    (("R", "S"), (True, False), ("R", "L", "S", "I")),   # RAS coronal
    (("A", "S"), (True, False), ("A", "P", "S", "I")),   # RAS sagittal: anterior on the left
    (("P", "I"), (False, True), ("A", "P", "S", "I")),
])
def test_radiological_view_puts_the_patients_right_on_the_left(codes, flips, sides):
    assert plots.radiological_view(codes) == (*flips, sides)


def test_segmentation_figure_shows_a_marker_on_the_side_its_axis_code_says():
    # a marker at the largest index of axis 0: for codes R the patient's right, for L the patient's left
    image = np.zeros((5, 4))
    image[4, 3] = 1.0  # largest x, largest y
    for codes, column, row in ((("R", "A"), 0, 3), (("L", "A"), 4, 3), (("R", "P"), 0, 0)):
        fig = plots.segmentation_figure(image, np.zeros((5, 4), int), np.zeros((5, 4), int), 3, orientation=codes)
        shown = np.asarray(fig.axes[0].images[0].get_array())  # rows bottom to top (origin lower), columns left to right
        assert np.argwhere(shown == 1.0).tolist() == [[row, column]], codes
        letters = {t.get_text(): t.get_position() for t in fig.axes[0].texts}
        assert letters["R"][0] < 0.5 < letters["L"][0]  # right on the left, always
        assert letters["A"][1] > 0.5 > letters["P"][1]
        plots.plt.close(fig)


def test_learning_curves_zoom_panel_fits_the_plateau_not_the_first_epochs():
    from medseg.eval.convergence import Curve

    epochs = list(range(40))
    rising = [0.85 - 0.75 * np.exp(-e / 3) for e in epochs]  # 0.10 at epoch 0, within 0.001 of 0.85 after 20
    runs = [Curve(epochs, [v + d for v in rising], epochs, [1.0 / (e + 1) for e in epochs]) for d in (0.0, 0.002)]
    fig = plots.learning_curves({"unet": {"none": runs}})
    assert len(fig.axes) == 3
    full, zoom = fig.axes[:2]
    assert full.get_ylim()[0] < 0.2  # the full panel shows epoch 0
    low, high = zoom.get_ylim()
    assert low > 0.8 and high < 0.86  # the zoom holds only epochs >= 20 (all within [0.849, 0.852])
    assert min(zoom.lines[0].get_xdata()) == 20
    plots.plt.close(fig)


def test_learning_curves_dash_the_epochs_where_some_seeds_had_stopped():
    from medseg.eval.convergence import Curve

    long, short = list(range(10)), list(range(6))  # one seed early-stopped after epoch 5
    runs = [Curve(long, [0.5 + 0.01 * e for e in long], long, [1.0] * 10),
            Curve(short, [0.4 + 0.01 * e for e in short], short, [1.0] * 6)]
    fig = plots.learning_curves({"unet": {"none": runs}})
    ax = fig.axes[0]
    solid, dashed = ax.lines[:2]
    y_solid, y_dashed = np.asarray(solid.get_ydata(), float), np.asarray(dashed.get_ydata(), float)
    assert dashed.get_linestyle() == "--"
    np.testing.assert_allclose(y_solid[:6], [0.45 + 0.01 * e for e in range(6)])  # mean of both seeds
    assert np.isnan(y_solid[6:]).all()
    np.testing.assert_allclose(y_dashed[6:], [0.5 + 0.01 * e for e in range(6, 10)])  # the long seed alone
    assert np.isnan(y_dashed[:5]).all() and np.isclose(y_dashed[5], 0.5)  # joined at the last full epoch
    plots.plt.close(fig)
