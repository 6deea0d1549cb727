"""Figures for reports: per-structure Dice box plots (scSE MICCAI 2018 Fig. 2), a placement heatmap and
learning curves.

Functions return a matplotlib ``Figure`` (headless Agg backend); the caller saves it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


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


def _band(curves: Sequence[tuple[Sequence[int], Sequence[float]]]) -> tuple[np.ndarray, ...]:
    """Epochs, mean, min, max and count over the runs that reached each epoch."""
    epochs = np.array(sorted({e for xs, _ in curves for e in xs}))
    table = np.full((len(curves), len(epochs)), np.nan)
    index = {e: i for i, e in enumerate(epochs)}
    for k, (xs, ys) in enumerate(curves):
        for x, y in zip(xs, ys):
            table[k, index[x]] = y
    count = np.isfinite(table).sum(0)
    return epochs, np.nanmean(table, 0), np.nanmin(table, 0), np.nanmax(table, 0), count  # every epoch has a run


def _plot_mean(ax, x: np.ndarray, mean: np.ndarray, full: np.ndarray, colour, label: str) -> None:
    """The mean line, solid where every seed contributes and dashed where some runs had already stopped
    (early stopping), so that a jump made by the set of seeds changing is not read as training."""
    ax.plot(x, np.where(full, mean, np.nan), color=colour, label=label)
    if not full.all():
        partial = ~full
        partial[:-1] |= ~full[1:]  # and the point before each partial one, so the dashes join the solid line
        ax.plot(x, np.where(partial, mean, np.nan), color=colour, linestyle="--", linewidth=1)


def learning_curves(curves: Mapping[str, Mapping[str, Sequence]], title: str = "") -> Figure:
    """One row per network: validation mean Dice (left), the same over the second half of training with the
    y-axis fitted to it (middle: the plateau, where cells differ by a few thousandths) and training loss
    (right) per epoch; one line per cell (the mean over its seeds at each epoch) with a min–max band over
    the seeds.

    ``curves[network][cell label]`` is a list of ``medseg.eval.convergence.Curve`` (one per seed).
    """
    networks = [n for n in curves if any(curves[n].values())]
    if not networks:
        raise ValueError("learning_curves: no run has CSV logs")
    fig, axes = plt.subplots(len(networks), 3, figsize=(15, 3.2 * len(networks) + 0.6), squeeze=False)
    colours = plt.get_cmap("tab10")
    panels = (("val_epochs", "val_dice", False), ("val_epochs", "val_dice", True), ("loss_epochs", "train_loss", False))
    for row, network in enumerate(networks):
        last = max((e for runs in curves[network].values() for c in runs for e in c.val_epochs), default=0)
        for i, (label, runs) in enumerate(curves[network].items()):
            for ax, (xs_attr, ys_attr, zoom) in zip(axes[row], panels):
                pairs = [(getattr(c, xs_attr), getattr(c, ys_attr)) for c in runs if getattr(c, xs_attr)]
                if not pairs:
                    continue
                x, mean, lo, hi, count = _band(pairs)
                if zoom:  # second half of training only, so autoscaling fits the plateau
                    keep = x >= last / 2
                    x, mean, lo, hi, count = x[keep], mean[keep], lo[keep], hi[keep], count[keep]
                _plot_mean(ax, x, mean, count == len(pairs), colours(i % 10), f"{label} (n={len(pairs)})")
                if len(pairs) > 1:
                    ax.fill_between(x, lo, hi, color=colours(i % 10), alpha=0.2, linewidth=0)
        axes[row][0].set_ylabel(f"{network}\nval mean Dice")
        axes[row][1].set_ylabel("val mean Dice, second half (zoom)")
        axes[row][2].set_ylabel("train loss (epoch mean)")
        axes[row][0].legend(loc="lower right", fontsize=7)
        for ax in axes[row]:
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def label_colours(num_classes: int) -> list[tuple[float, float, float]]:
    """RGB in [0, 1] of each class id (tab20 then tab20b, cycling): neighbouring ids, such as a structure's
    white matter and cortex, never get two shades of one hue as on a continuous map; tab20's two greys are
    left out, as a grey label vanishes over an MR or CT image. The one definition of medseg's label colours:
    figures and the viewer label tables (:mod:`medseg.eval.label_tables`) use it."""
    palette = [c for c in (*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors) if max(c) - min(c) > 0.05]
    return [tuple(float(v) for v in palette[i % len(palette)]) for i in range(num_classes)]


def label_colormap(num_classes: int) -> ListedColormap:
    """:func:`label_colours` as a colormap indexed by class id."""
    return ListedColormap(label_colours(max(2, num_classes)))


OPPOSITE = {"R": "L", "L": "R", "A": "P", "P": "A", "S": "I", "I": "S"}
_SHOWN_LEFT, _SHOWN_UP = {"R": "R", "A": "A", "S": "I"}, {"A": "A", "S": "S", "R": "R"}  # per axis, by its letter pair


def radiological_view(codes: tuple[str, str]) -> tuple[bool, bool, tuple[str, str, str, str]]:
    """How to show a slice whose array axes point to ``codes`` (nibabel axis codes, e.g. ``("R", "A")``) in the
    radiological convention: patient right on the image left, anterior (sagittal: anterior on the left) and
    superior up. Returns ``(flip horizontally, flip vertically, (left, right, top, bottom) side letters)`` for a
    slice drawn with its first axis left to right and its second bottom to top."""
    h, v = codes
    left = next(_SHOWN_LEFT[c] for c in (h, OPPOSITE[h]) if c in _SHOWN_LEFT)
    up = next(_SHOWN_UP[c] for c in (v, OPPOSITE[v]) if c in _SHOWN_UP)
    flip_h, flip_v = h == left, v != up  # the axis increases toward its code: toward the right, upwards
    return flip_h, flip_v, (left, OPPOSITE[left], up, OPPOSITE[up])


def segmentation_figure(image: np.ndarray, reference: np.ndarray, prediction: np.ndarray, num_classes: int, title: str = "",
                        orientation: tuple[str, str] | None = None) -> Figure:
    """One 2D slice: the image, the reference labels and the predicted labels over it, side by side, one colour
    per class (background transparent). Without ``orientation`` the first array axis runs left to right; with
    it (the two axes' nibabel codes) the slice is shown radiologically (:func:`radiological_view`), its sides
    lettered."""
    flip_h, flip_v, sides = radiological_view(orientation) if orientation else (False, False, None)

    def shown(a: np.ndarray) -> np.ndarray:
        a = a[::-1] if flip_h else a
        return (a[:, ::-1] if flip_v else a).T

    cmap = label_colormap(num_classes)
    figure, axes = plt.subplots(1, 3, figsize=(11, 4.2))
    for ax, labels, name in zip(axes, (None, reference, prediction), ("image", "reference", "prediction")):
        ax.imshow(shown(image), origin="lower", cmap="gray", interpolation="nearest")
        if labels is not None:
            ax.imshow(np.ma.masked_equal(shown(labels), 0), origin="lower", cmap=cmap, vmin=0, vmax=num_classes - 1,
                      alpha=0.55, interpolation="nearest")
        if sides:
            for letter, (x, y, ha, va) in zip(sides, ((0.01, 0.5, "left", "center"), (0.99, 0.5, "right", "center"),
                                                      (0.5, 0.99, "center", "top"), (0.5, 0.01, "center", "bottom"))):
                ax.text(x, y, letter, transform=ax.transAxes, ha=ha, va=va, color="yellow", fontsize=9)
        ax.set_title(name)
        ax.axis("off")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
