"""Absent organs (a chest-only torso has no bladder): from label volumes through dice_per_structure,
the results files and ``medseg report``, a structure absent from both reference and prediction is
missing (NaN, excluded) in every mean, CI and test, never 0 or 1, and per-structure figures say n."""

import csv
import json
import math
import statistics

import numpy as np
import pytest
from scipy import stats

from medseg.eval import confusion_matrix, dice_per_structure
from medseg.eval.report import report
from medseg.eval.results import result_rows, summarise, write_results
from medseg.eval.stats import bootstrap_ci

NAMES = ["background", "liver", "urinary_bladder", "right_rectus_abdominis"]
SHAPE = (12, 12, 10)
N = 6  # subjects; the last three are chest-only: no bladder in the reference


def reference(i: int) -> np.ndarray:
    ref = np.zeros(SHAPE, np.uint8)
    ref[1:9, 1:9, :] = 1  # liver in every subject
    if i < 3:
        ref[9:12, 3:9, 2:8] = 2  # bladder
    return ref  # rectus abdominis: never (no TotalSegmentator class)


def prediction(i: int, variant: str) -> np.ndarray:
    """The reference with some liver voxels missed (more for "none"); scse predicts a false bladder in
    subject 4, which is absent from its reference (Dice 0 there, by the convention); none misses subject 2's
    whole bladder."""
    pred = reference(i).copy()
    pred[1:9, 1 : 2 + i + (2 if variant == "none" else 0), :3] = 0
    if i < 3:
        pred[9:12, 3 : 4 + i, 2:8] = 0
    if variant == "scse" and i == 4:
        pred[10:12, 10:12, 0:2] = 2
    if variant == "none" and i == 2:
        pred[pred == 2] = 0  # the whole bladder missed: Dice 0, a defined value
    return pred


def hand_dice(p: np.ndarray, r: np.ndarray) -> float:
    a, b = p.sum(), r.sum()
    return math.nan if a + b == 0 else 2.0 * np.logical_and(p, r).sum() / (a + b)


def hand_subject_mean(i: int, variant: str) -> float:
    values = [hand_dice(prediction(i, variant) == c, reference(i) == c) for c in range(1, len(NAMES))]
    return statistics.fmean(v for v in values if not math.isnan(v))


def write_run(root, variant: str):
    scores = {f"s{i}": dice_per_structure(prediction(i, variant), reference(i), len(NAMES)) for i in range(N)}
    confusion = {f"s{i}": confusion_matrix(prediction(i, variant), reference(i), len(NAMES)) for i in range(N)}
    rows = [row for s, d in scores.items() for row in result_rows(s, d, NAMES, confusion=confusion[s])]
    summary = summarise(scores, NAMES) | {"network": "quicknat", "attention": variant, "placement": "all", "dataset": "torso"}
    write_results(root / variant / "results", rows, summary)
    return summary


@pytest.fixture(scope="module")
def absent_report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("absent")
    summaries = {v: write_run(tmp_path / "runs", v) for v in ("none", "scse")}
    assert report([str(tmp_path / "runs")], out=str(tmp_path / "out")) == 0
    return tmp_path, summaries


def test_dice_of_an_absent_organ_is_nan_and_written_as_an_empty_cell(absent_report):
    tmp_path, summaries = absent_report
    with open(tmp_path / "runs" / "none" / "results" / "dice_per_structure.csv", encoding="utf-8") as f:
        cells = {(r["subject"], r["structure"]): r["dice"] for r in csv.DictReader(f)}
    assert cells[("s4", "urinary_bladder")] == "" and cells[("s0", "right_rectus_abdominis")] == ""
    assert float(cells[("s0", "urinary_bladder")]) == pytest.approx(hand_dice(prediction(0, "none") == 2, reference(0) == 2))
    none, scse = summaries["none"], summaries["scse"]
    assert none["per_structure_subjects"] == {"liver": 6, "urinary_bladder": 3, "right_rectus_abdominis": 0}
    assert scse["per_structure_subjects"]["urinary_bladder"] == 4  # the false bladder counts 0, in subject 4
    assert none["per_structure"]["right_rectus_abdominis"] is None
    bladder = [hand_dice(prediction(i, "none") == 2, reference(i) == 2) for i in range(3)]
    assert none["per_structure"]["urinary_bladder"] == pytest.approx(statistics.fmean(bladder))
    expected = statistics.fmean(hand_subject_mean(i, "none") for i in range(N))
    assert none["mean_dice"] == pytest.approx(expected)


def test_report_means_ci_and_wilcoxon_exclude_absent_organs(absent_report):
    tmp_path, _ = absent_report
    with open(tmp_path / "out" / "summary.csv", encoding="utf-8") as f:
        rows = {r["column"]: r for r in csv.DictReader(f)}
    hand = {v: [hand_subject_mean(i, v) for i in range(N)] for v in ("none", "scse")}
    for variant in ("none", "scse"):
        assert float(rows[variant]["mean_dice"]) == pytest.approx(statistics.fmean(hand[variant]))
        _, lo, hi = bootstrap_ci(np.array(hand[variant]))
        assert (float(rows[variant]["ci_low"]), float(rows[variant]["ci_high"])) == pytest.approx((lo, hi))
        assert rows[variant]["subjects"] == str(N)
    p = stats.wilcoxon(hand["scse"], hand["none"]).pvalue
    assert float(rows["scse"]["wilcoxon_p"]) == pytest.approx(p)
    assert float(rows["scse"]["delta_vs_baseline"]) == pytest.approx(statistics.fmean(np.subtract(hand["scse"], hand["none"])))
    # the test discriminates: absent organs counted as 0 or as 1 would give other means
    for fill in (0.0, 1.0):
        filled = statistics.fmean(
            statistics.fmean(fill if math.isnan(v) else v for v in
                             [hand_dice(prediction(i, "none") == c, reference(i) == c) for c in (1, 2, 3)])
            for i in range(N))  # fmt: skip
        assert abs(filled - float(rows["none"]["mean_dice"])) > 0.02


def test_per_structure_table_says_how_many_subjects_each_figure_rests_on(absent_report):
    tmp_path, _ = absent_report
    with open(tmp_path / "out" / "per_structure.csv", encoding="utf-8") as f:
        rows = {(r["column"], r["structure"]): r for r in csv.DictReader(f)}
    assert rows[("none", "urinary_bladder")]["subjects"] == "3" and rows[("scse", "urinary_bladder")]["subjects"] == "4"
    assert rows[("none", "right_rectus_abdominis")]["subjects"] == "0"
    assert rows[("none", "right_rectus_abdominis")]["mean_dice"] == "nan"
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    bladder = [hand_dice(prediction(i, "none") == 2, reference(i) == 2) for i in range(3)]
    assert f"{statistics.fmean(bladder):.3f} ± {statistics.stdev(bladder):.3f} (n=3; 1 missed)" in md
    assert "| right_rectus_abdominis | absent (n=0) | absent (n=0) |" in md
    assert "never counted as 0 or 1" in md
    json.loads((tmp_path / "runs" / "scse" / "results" / "summary.json").read_text())  # strict JSON: null, not NaN


def test_results_carry_voxel_counts_and_the_report_tells_false_alarms_from_misses(absent_report):
    tmp_path, _ = absent_report
    with open(tmp_path / "runs" / "scse" / "results" / "dice_per_structure.csv", encoding="utf-8") as f:
        cells = {(r["subject"], r["structure_id"]): r for r in csv.DictReader(f)}
    for i in range(N):
        for c in range(1, len(NAMES)):
            row = cells[(f"s{i}", str(c))]
            assert int(row["reference_voxels"]) == int((reference(i) == c).sum())
            assert int(row["predicted_voxels"]) == int((prediction(i, "scse") == c).sum())
    with open(tmp_path / "out" / "per_structure.csv", encoding="utf-8") as f:
        rows = {(r["column"], r["structure"]): r for r in csv.DictReader(f)}
    for variant in ("none", "scse"):
        for c, name in enumerate(NAMES[1:], start=1):
            ref = [(reference(i) == c).any() for i in range(N)]
            pred = [(prediction(i, variant) == c).any() for i in range(N)]
            assert rows[(variant, name)]["absent_but_predicted"] == str(sum(p and not r for r, p in zip(ref, pred)))
            assert rows[(variant, name)]["missed"] == str(sum(r and not p for r, p in zip(ref, pred)))
    assert (rows[("scse", "urinary_bladder")]["absent_but_predicted"], rows[("none", "urinary_bladder")]["missed"]) == ("1", "1")
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "(n=4; 1 absent but predicted)" in md and "(n=3; 1 missed)" in md


def test_results_without_voxel_counts_still_report(tmp_path):
    """Results written before the counts existed: the report reads them and claims nothing about false alarms."""
    scores = {f"s{i}": dice_per_structure(prediction(i, "scse"), reference(i), len(NAMES)) for i in range(N)}
    rows = [row for s, d in scores.items() for row in result_rows(s, d, NAMES)]
    summary = summarise(scores, NAMES) | {"network": "quicknat", "attention": "scse", "placement": "all", "dataset": "torso"}
    write_results(tmp_path / "runs" / "old" / "results", rows, summary)
    assert report([str(tmp_path / "runs")], out=str(tmp_path / "out")) == 0
    with open(tmp_path / "out" / "per_structure.csv", encoding="utf-8") as f:
        bladder = next(r for r in csv.DictReader(f) if r["structure"] == "urinary_bladder")
    assert bladder["absent_but_predicted"] == "" and bladder["subjects"] == "4"
    assert "absent but predicted)" not in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
