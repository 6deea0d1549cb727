"""``benchmarks/vs_peers.py``: nnU-Net at medseg's capacity, and the quick time-to-Dice run of a medseg recipe."""

import json

import pytest

from tests.benchmarks.scripts import load_script


def _script():
    return load_script("vs_peers.py")


def _plans(stages: int) -> dict:
    arch = {"n_stages": stages, "features_per_stage": [min(32 * 2**i, 512) for i in range(stages)], "kernel_sizes": [[3, 3]] * stages}
    config = {"data_identifier": "nnUNetPlans_2d", "batch_size": 47, "patch_size": [96, 96],
              "architecture": {"network_class_name": "PlainConvUNet", "arch_kwargs": arch}}  # fmt: skip
    return {"plans_name": "nnUNetPlans", "configurations": {"2d": config, "3d_fullres": {"batch_size": 2}}}


@pytest.mark.parametrize("stages", [4, 7])
def test_capacity_plans_narrow_the_2d_network_only(stages):
    peers = _script()
    plans = _plans(stages)
    original = json.dumps(plans, sort_keys=True)
    edited = peers.capacity_plans(plans)
    assert json.dumps(plans, sort_keys=True) == original  # the input is not modified
    config = edited["configurations"]["2d"]
    expected = [16, 32, 64, 128, 256, 256, 256][:stages]
    assert config["architecture"]["arch_kwargs"]["features_per_stage"] == expected
    assert config["batch_size"] == 16
    assert edited["plans_name"] == peers.CAPACITY_PLANS != "nnUNetPlans"
    # the preprocessed data of the planned configuration is reused, everything else is as planned
    assert config["data_identifier"] == "nnUNetPlans_2d" and config["patch_size"] == [96, 96]
    assert edited["configurations"]["3d_fullres"] == plans["configurations"]["3d_fullres"]


def test_points_must_end_at_the_budget(tmp_path):
    peers = _script()
    with pytest.raises(SystemExit):
        peers.main(["--work", str(tmp_path), "--budget", "600", "--points", "300", "900"])


@pytest.mark.slow
def test_quick_run_scores_each_point_and_resumes(tmp_path):
    peers = _script()
    work = tmp_path / "w"
    assert peers.main(["--quick", "true", "--work", str(work), "--systems", "medseg-demo"]) == 0
    results = json.loads((work / "results.json").read_text())
    points = results["medseg-demo"]["points"]
    assert list(points) == ["0 min", "60 min"]  # the first step's weights, then the last ones
    assert points["0 min"]["steps"] == 1 and points["60 min"]["steps"] == 3
    assert points["0 min"]["seconds"] < points["60 min"]["seconds"]
    for point in points.values():
        assert all(len(v) == 1 and (v[0] != v[0] or 0.0 <= v[0] <= 1.0) for v in point["dice"].values())  # 1 held-out subject
    assert (work / "time_to_dice.png").stat().st_size > 0
    log = work / "medseg-demo_fit.log"
    before = log.stat().st_mtime_ns
    assert peers.main(["--quick", "true", "--work", str(work), "--systems", "medseg-demo"]) == 0
    assert log.stat().st_mtime_ns == before  # a system in results.json is not trained again


def test_table_gives_each_point_reached_and_the_last_point_per_structure():
    peers = _script()
    nan = float("nan")
    results = {
        "a": {"points": {"5 min": {"dice": {"x": [0.5, 0.7], "y": [0.1, nan]}},
                         "45 min": {"dice": {"x": [0.9, 0.9], "y": [0.5, 0.7]}}}},  # fmt: skip
        "b": {"points": {"5 min": {"dice": {"x": [0.2, 0.4], "y": [0.0, 0.2]}}}},  # stopped before 45 minutes
    }
    lines = peers.table(results, [300.0, 2700.0]).splitlines()
    # mean over subjects of each subject's foreground mean, an absent structure left out: a at 5 min = (0.3 + 0.7) / 2, at 45 (0.7 + 0.8) / 2
    assert lines[2] == "| a | 0.500 | 0.750 |" and lines[3] == "| b | 0.200 | – |"
    assert "| x | 0.900 | 0.300 |" in lines and "| y | 0.600 | 0.100 |" in lines  # a at 45 min, b at 5 min


def test_point_names_are_whole_minutes_or_seconds():
    peers = _script()
    assert [peers.point_name(t) for t in (0.0, 300.0, 2700.0, 20.0, 90.0)] == ["0 min", "5 min", "45 min", "20 s", "90 s"]


def test_combine_labels_a_system_by_its_cpu_and_refuses_two_runs_under_one_label(tmp_path, capsys):
    peers = _script()
    points = {"5 min": {"dice": {"x": [0.5], "y": [0.7]}}}
    old, new, again = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "again.json"
    old.write_text(json.dumps({"medseg-demo": {"points": points}, "monai": {"points": points}}))
    avx2 = {"cpu": "AMD EPYC", "isa": ["avx2"], "torch": "2.13.0", "threads": 2}
    new.write_text(json.dumps({"medseg-demo": {"points": points, "machine": avx2},
                               "medseg-grid": {"points": points, "machine": avx2}}))  # fmt: skip
    assert list(peers.combine([old, new])) == ["medseg-demo", "monai", "medseg-demo (AVX2 CPU)", "medseg-grid (AVX2 CPU)"]
    assert peers.main(["--combine", str(old), str(new), "--work", str(tmp_path / "c"), "--budget", "300", "--points", "300"]) == 0
    assert "| medseg-grid (AVX2 CPU) | 0.600 |" in capsys.readouterr().out
    assert (tmp_path / "c" / "time_to_dice.png").stat().st_size > 0
    again.write_text(new.read_text())
    with pytest.raises(SystemExit):  # the same system on the same kind of CPU twice
        peers.main(["--combine", str(new), str(again), "--work", str(tmp_path / "d")])
    assert not (tmp_path / "d").exists()
