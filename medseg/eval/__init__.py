"""Metrics, result tables, statistics, plots."""

from medseg.eval.metrics import confusion_matrix, dice_from_confusion, dice_per_structure, mean_foreground, normalized_surface_dice, surface_distances
from medseg.eval.results import result_rows, summarise, write_results

__all__ = [
    "confusion_matrix",
    "dice_from_confusion",
    "dice_per_structure",
    "mean_foreground",
    "normalized_surface_dice",
    "result_rows",
    "summarise",
    "surface_distances",
    "write_results",
]
