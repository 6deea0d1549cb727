"""Results files: columns, summary means from an independent computation, backups, atomic writes."""

import csv
import json

import numpy as np
import pytest

from medseg.eval.results import result_rows, summarise, write_results

NAMES = ["background", "a", "b", "c"]


def _per_subject():
    return {"s2": np.array([0.99, 0.5, np.nan, 0.7]), "s1": np.array([0.98, 0.9, 0.2, np.nan])}


def test_summary_means_over_subjects_of_subject_means():
    s = summarise(_per_subject(), NAMES)
    assert s["mean_dice"] == pytest.approx(((0.5 + 0.7) / 2 + (0.9 + 0.2) / 2) / 2)
    assert s["per_structure"] == pytest.approx({"a": 0.7, "b": 0.2, "c": 0.7})
    assert s["num_subjects"] == 2


def test_csv_rows_sorted_nan_empty_and_previous_results_backed_up(tmp_path):
    per = _per_subject()
    rows = [r for sid, d in per.items() for r in result_rows(sid, d, NAMES, hd95=d * 10, asd=d, nsd=d / 2)]
    write_results(tmp_path, rows, summarise(per, NAMES))
    with open(tmp_path / "dice_per_structure.csv") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["subject", "structure_id", "structure", "dice", "hd95", "asd", "nsd"]
    assert float(table[0]["nsd"]) == 0.9 / 2
    assert [r["subject"] for r in table] == ["s1"] * 3 + ["s2"] * 3
    assert table[2]["dice"] == "" and float(table[3]["dice"]) == 0.5
    first = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    with pytest.warns(UserWarning, match="previous"):
        write_results(tmp_path, rows[:3], summarise({"s1": per["s1"]}, NAMES))
    backups = list((tmp_path / "previous").iterdir())
    assert len(backups) == 1 and json.loads((backups[0] / "summary.json").read_text(encoding="utf-8")) == first
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["num_subjects"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_mismatched_names_are_rejected():
    with pytest.raises(ValueError, match="s1.*4 Dice values but 3"):
        result_rows("s1", np.zeros(4), NAMES[:3])



def test_read_summary_refuses_truncated_or_foreign_files_issue25_defect3(tmp_path):
    """issue 25 defect 3: a truncated summary.json counted as finished results; it is parsed before trusted."""
    import json

    from medseg.eval.results import has_results, read_summary

    path = tmp_path / "results" / "summary.json"
    path.parent.mkdir()
    full = json.dumps({"mean_dice": 0.5, "per_structure": {"A": 0.5}, "num_subjects": 2})
    path.write_text(full, encoding="utf-8")
    assert read_summary(path)["num_subjects"] == 2 and has_results(tmp_path)
    for text, why in ((full[:25], "JSON error"), ("[1, 2]", "no num_subjects"), ('{"mean_dice": 0.5}', "no num_subjects")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=rf"summary.json: not a test summary \({why}"):
            read_summary(path)
        assert not has_results(tmp_path)
    path.write_bytes(b"\xff\xfe{")
    assert not has_results(tmp_path)
    path.unlink()
    assert not has_results(tmp_path)
