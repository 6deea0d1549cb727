"""Figures for reports: per-structure Dice box plots (scSE MICCAI 2018 Fig. 2) and a placement heatmap.

Functions return a matplotlib ``Figure`` (headless Agg backend); the caller saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def structure_boxplot(
    dice: Mapping[str, Mapping[str, Sequence[float]]], structures: Sequence[str], title: str = ""
) -> Figure:
    """Box plots of Dice over subjects, grouped by structure, one box per variant (side by side).

    ``dice[variant][structure]`` is the list of per-subject Dice values; NaNs are dropped.
    """
    variants = list(dice)
    if not variants or not structures:
        raise ValueError("structure_boxplot: need at least one variant and one structure")
    width = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(min(24.0, max(6.0, 0.2 * len(structures) * len(variants) + 2)), 4.5))
    colours = plt.get_cmap("tab10")
    for i, variant in enumerate(variants):
        data = [np.asarray(dice[variant].get(s, []), dtype=float) for s in structures]
        data = [d[np.isfinite(d)] for d in data]
        positions = np.arange(len(structures)) + (i - (len(variants) - 1) / 2) * width
        box = ax.boxplot(data, positions=positions, widths=width * 0.9, patch_artist=True, showfliers=True)
        for patch in box["boxes"]:
            patch.set_facecolor(colours(i % 10))
        box["boxes"][0].set_label(variant)
    ax.set_xticks(np.arange(len(structures)))
    ax.set_xticklabels(structures, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("Dice")
    ax.set_ylim(0.0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def placement_heatmap(
    values: np.ndarray, rows: Sequence[str], columns: Sequence[str], title: str = "", diverging: bool = True
) -> Figure:
    """Annotated heatmap, rows = placements, columns = structures (or networks).

    ``diverging`` centres the colour scale at 0 (for ΔDice against the no-attention baseline).
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(rows), len(columns)):
        raise ValueError(f"placement_heatmap: values have shape {values.shape}, expected {(len(rows), len(columns))}")
    finite = values[np.isfinite(values)]
    if diverging:
        bound = float(np.max(np.abs(finite))) if finite.size else 1.0
        kwargs = {"cmap": "RdBu", "vmin": -bound or -1.0, "vmax": bound or 1.0}
    else:
        kwargs = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
    fig, ax = plt.subplots(figsize=(max(4.0, 0.7 * len(columns) + 2.5), max(2.5, 0.45 * len(rows) + 1.5)))
    image = ax.imshow(values, aspect="auto", **kwargs)
    ax.set_xticks(np.arange(len(columns)))
    ax.set_xticklabels(columns, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, "n/a" if not np.isfinite(v) else f"{v:+.3f}" if diverging else f"{v:.3f}",
                ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="ΔDice vs none" if diverging else "Dice")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def segmentation_figure(image: np.ndarray, reference: np.ndarray, prediction: np.ndarray, num_classes: int, title: str = "") -> Figure:
    """One 2D slice (rows = first array axis shown left to right): the image, the reference labels and the
    predicted labels over it, side by side, one colour per class (background transparent)."""
    cmap = plt.get_cmap("nipy_spectral", max(2, num_classes))
    figure, axes = plt.subplots(1, 3, figsize=(11, 4.2))
    for ax, labels, name in zip(axes, (None, reference, prediction), ("image", "reference", "prediction")):
        ax.imshow(image.T, origin="lower", cmap="gray", interpolation="nearest")
        if labels is not None:
            shown = np.ma.masked_equal(labels.T, 0)
            ax.imshow(shown, origin="lower", cmap=cmap, vmin=0, vmax=num_classes - 1, alpha=0.55, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
