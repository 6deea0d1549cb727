"""``medseg report`` on damaged inputs and over an earlier report (issue 25 defects 14, 23, 24)."""

import pytest

from medseg.eval.report import report
from tests.eval.report_fixtures import NONE_MEANS, SCSE_MEANS, write_run


def _run(tmp_path):
    return write_run(tmp_path / "runs", "a", "unet", "none", "all", NONE_MEANS, seed=0, curve=[0.1, 0.2, 0.3],
                     stop_reason="max_epochs")


@pytest.mark.parametrize("damage, file, says", [
    ("truncated summary", "results/summary.json", "JSON error"),
    ("truncated training", "results/training.json", "not valid JSON"),
    ("summary not an object", "results/summary.json", "not a test summary"),
    ("structure id", "results/dice_per_structure.csv", "line 3: structure_id 'x' is not an integer"),
    ("short row", "results/dice_per_structure.csv", "line 3: fewer cells"),
    ("binary csv", "results/dice_per_structure.csv", "not a readable CSV"),
    ("binary log", "csv/version_0/metrics.csv", "not a readable CSV log"),
])
def test_issue25_defect23_corrupt_input_is_an_error_naming_the_file(tmp_path, damage, file, says):
    run = _run(tmp_path)
    path = run / file
    text = path.read_text(encoding="utf-8")
    if damage.startswith("truncated"):
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif damage == "summary not an object":
        path.write_text("[1, 2]", encoding="utf-8")
    elif damage == "structure id":
        lines = text.splitlines()
        lines[2] = lines[2].replace(",1,", ",x,", 1)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif damage == "short row":
        lines = text.splitlines()
        lines[2] = lines[2].split(",")[0]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_bytes(text.encode()[:30] + b"\xff\xfe\x00\x81" + text.encode()[30:])
    with pytest.raises(ValueError) as error:
        report([str(tmp_path / "runs")], out=str(tmp_path / "out"))
    assert str(path) in str(error.value) and says in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_issue25_defect14_report_over_an_earlier_report_keeps_it_as_a_backup(tmp_path):
    _run(tmp_path)
    out = tmp_path / "out"
    report([str(tmp_path / "runs")], out=str(out))
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    (out / "notes.txt").write_text("mine", encoding="utf-8")  # not the report's: left where it is
    write_run(tmp_path / "runs", "b", "unet", "scse", "all", SCSE_MEANS, seed=0)
    with pytest.warns(UserWarning, match="previous files moved to"):
        report([str(tmp_path / "runs")], out=str(out))
    (backup,) = (out / "previous").iterdir()
    assert {p.name: p.read_bytes() for p in backup.iterdir()} == first
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert "scse" in (out / "summary.csv").read_text(encoding="utf-8")  # the new report is in place
    assert "scse" not in first["summary.csv"].decode()


@pytest.mark.parametrize("decimals", [-1, 2.5])
def test_issue25_defect24_negative_decimals_is_a_clear_error(tmp_path, decimals):
    _run(tmp_path)
    with pytest.raises(ValueError, match="--decimals must be a whole number >= 0"):
        report([str(tmp_path / "runs")], out=str(tmp_path / "out"), decimals=decimals)
    assert not (tmp_path / "out").exists()
