"""``medseg sweep``: grid expansion, placement generators, commands, and resuming after a crash or kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from medseg.sweep import expand, load_grid, placements, sweep

FAKE = [sys.executable, str(Path(__file__).with_name("fake_engine.py"))]
pytestmark = pytest.mark.usefixtures("sweep_data")  # m.json in the working directory (conftest.py)
SITES = ["enc1", "bottleneck", "dec1"]


def write_grid(tmp_path, **extra) -> Path:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "model": {"network": {"name": "unet", "attention": "none", "placement": "all", "options": {"features": 8}}},
        "data": {"manifest": "m.json"}, "trainer": {"max_epochs": 2}}))
    grid = {"base": "base.yaml", "root": str(tmp_path / "runs"), "command": FAKE,
            "grid": {"model.network.attention": ["none", "cse", "scse"]}, **extra}
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False), encoding="utf-8")
    return path


def calls(run_dir: Path) -> list[str]:
    log = run_dir / "calls.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def test_placement_generators():
    assert placements("one_at_a_time", SITES) == [("enc1", ["enc1"]), ("bottleneck", ["bottleneck"]), ("dec1", ["dec1"])]
    assert [v for _, v in placements("leave_one_out", SITES)] == [["bottleneck", "dec1"], ["enc1", "dec1"], ["enc1", "bottleneck"]]
    assert placements("cumulative", SITES, with_all=True)[1:] == [("upto-bottleneck", ["enc1", "bottleneck"]),
                                                                  ("upto-dec1", SITES), ("all", "all")]
    with pytest.raises(ValueError, match="unknown placement generator 'random'.*one_at_a_time"):
        placements("random", SITES)


def test_expand_product_seeds_include_exclude(tmp_path):
    grid = load_grid(write_grid(
        tmp_path, seeds=[0, 1], set={"trainer.max_epochs": 3},
        grid={"model.network.name": ["unet", "quicknat"], "model.network.attention": ["cse", "scse"],
              "model.network.placement": {"generate": "one_at_a_time", "sites": ["enc1", "dec1"]}},
        exclude=[{"model.network.name": "quicknat", "model.network.attention": "cse"}],
        include=[{"model.network.attention": "none", "model.network.placement": "all"}]))
    runs = expand(grid)
    # (2 nets × 2 attentions − 1 excluded) × 2 placements + 1 included cell, each × 2 seeds
    assert len(runs) == (2 * 2 - 1) * 2 * 2 + 1 * 2
    assert len({r.dir for r in runs}) == len(runs)
    first = runs[0]
    assert first.name.startswith("unet-cse-enc1-seed0-") and first.config["seed_everything"] == 0
    assert first.config["model"]["network"]["placement"] == ["enc1"]
    assert first.config["trainer"] == {"max_epochs": 3, "default_root_dir": str(first.dir)}
    assert first.config["model"]["network"]["options"] == {"features": 8}  # base keys kept
    assert not any(r.config["model"]["network"]["name"] == "quicknat" and
                   r.config["model"]["network"]["attention"] == "cse" for r in runs)
    assert runs[-1].name.startswith("none-all-seed1-")  # include cells keep base values (unet) for other keys
    assert runs[-1].config["model"]["network"]["name"] == "unet"


def test_linked_axis_sets_keys_together(tmp_path):
    nets = [{"model.network.name": "quicknat", "model.network.options": {"features": 4}},
            {"model.network.name": "fcdensenet", "model.network.options": {"preset": "fcdensenet56"}}]
    runs = expand(load_grid(write_grid(tmp_path, grid={"network": nets, "model.network.attention": ["none", "sse"]})))
    assert [r.name.rsplit("-", 1)[0] for r in runs] == ["quicknat-none", "quicknat-sse", "fcdensenet-none", "fcdensenet-sse"]
    assert runs[3].config["model"]["network"] == {"name": "fcdensenet", "attention": "sse", "placement": "all",
                                                  "options": {"preset": "fcdensenet56"}}


def test_bad_grid_errors_name_the_key(tmp_path):
    path = write_grid(tmp_path, grid={"model.network.attention": []})
    with pytest.raises(ValueError, match="grid key 'model.network.attention' needs a non-empty list"):
        expand(load_grid(path))
    path = write_grid(tmp_path, folds=[0, 1])
    with pytest.raises(ValueError, match=r"folds must be \{key: data.fold, values: \[0, 1, ...\]\}, got \[0, 1\]"):
        expand(load_grid(path))
    runs = expand(load_grid(write_grid(tmp_path, folds={"values": [0, 1]}, seeds=[3])))
    assert len(runs) == 3 * 2 and runs[1].config["data"]["fold"] == 1 and runs[1].config["seed_everything"] == 3
    assert "-fold1-seed3-" in runs[1].name
    path.write_text(yaml.safe_dump({"base": "base.yaml", "root": "r", "grids": {}}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['grids'\]"):
        load_grid(path)


def test_print_commands_and_slurm(tmp_path, capsys):
    path = write_grid(tmp_path)
    assert sweep(str(path), dry_run=True) == 0
    assert "3 to run" in capsys.readouterr().out and not (tmp_path / "runs").exists()
    assert sweep(str(path), print_commands=True, launcher="torchrun", nproc_per_node=4) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("torchrun --standalone --nproc_per_node=4 -m medseg.cli fit --config ")
                                   for line in lines)
    cfg = lines[0].split()[7]
    assert yaml.safe_load(Path(cfg).read_text(encoding="utf-8"))["trainer"]["default_root_dir"] == str(Path(cfg).parent)
    assert sweep(str(path), slurm=str(tmp_path / "job.sbatch")) == 0
    script = (tmp_path / "job.sbatch").read_text(encoding="utf-8")
    assert "#SBATCH --array=1-3" in script and len((tmp_path / "job.commands").read_text(encoding="utf-8").splitlines()) == 3


def test_failed_run_resumes_from_last_ckpt_and_skips_done_runs(tmp_path, monkeypatch):
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    monkeypatch.setenv("FAKE_FAIL", "cse-")  # the second run fails after epoch 0
    assert sweep(str(path)) == 1
    assert [r.status for r in runs] == ["done", "partial", "todo"]
    monkeypatch.delenv("FAKE_FAIL")
    assert sweep(str(path)) == 0
    assert [r.status for r in runs] == ["done"] * 3
    assert len(calls(runs[0].dir)) == 2  # fit + test, not re-run
    resumed = calls(runs[1].dir)
    assert resumed[1].startswith("fit") and resumed[1].endswith(f"--ckpt_path {runs[1].last_ckpt}")
    assert [c.split()[0] for c in calls(runs[2].dir)] == ["fit", "test"]


def test_in_process_runs_share_the_resume_logic(tmp_path, monkeypatch):
    from tests.sweeps import fake_engine

    monkeypatch.setattr("medseg.cli.main", fake_engine.main)
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    monkeypatch.setenv("FAKE_FAIL", "scse-")
    assert sweep(str(path), in_process=True) == 1
    assert [r.status for r in runs] == ["done", "done", "partial"]
    monkeypatch.delenv("FAKE_FAIL")
    assert sweep(str(path), in_process=True) == 0
    assert [r.status for r in runs] == ["done"] * 3 and "--ckpt_path" in calls(runs[2].dir)[1]


@pytest.mark.slow
def test_killed_sweep_rerun_executes_only_missing_runs(tmp_path):
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    env = {**os.environ, "FAKE_HANG": "cse-"}
    proc = subprocess.Popen([sys.executable, "-m", "medseg.cli", "sweep", str(path)], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not runs[1].last_ckpt.exists():
        assert time.time() < deadline and proc.poll() is None, "sweep did not reach the second run"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # kill the sweep and its fit subprocess
    proc.wait()
    assert [r.status for r in runs] == ["done", "partial", "todo"]
    assert subprocess.call([sys.executable, "-m", "medseg.cli", "sweep", str(path)], stdout=subprocess.DEVNULL) == 0
    assert [r.status for r in runs] == ["done"] * 3
    assert len(calls(runs[0].dir)) == 2
    assert "--ckpt_path" in calls(runs[1].dir)[1]


def test_sweep_skips_a_run_held_by_another_process_and_says_so(tmp_path, capsys):
    from medseg.run_folder import RunLock

    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    with RunLock(runs[1].dir):  # another `medseg sweep` or `medseg fit` working in that folder
        assert sweep(str(path)) == 0
        out = capsys.readouterr()
        assert f"skipped {runs[1].name}" in out.out and f"in use by process {os.getpid()}" in out.out
        assert "1 run(s) skipped because another process holds them" in out.out
        assert [r.status for r in runs] == ["done", "todo", "done"] and calls(runs[1].dir) == []
    assert sweep(str(path)) == 0
    assert [r.status for r in runs] == ["done"] * 3 and len(calls(runs[0].dir)) == 2


def test_hash_is_of_the_canonical_attention_spec(tmp_path):
    """A spec spelled with its defaults is the same run; a non-default option is not."""
    path = write_grid(tmp_path, grid={"model.network.attention": [
        "scse", {"name": "scse", "aggregation": "add"}, {"name": "SCSE", "reduction": 2, "bias": True},
        {"name": "scse", "aggregation": "max"}, {"name": "se", "reduction": 2}, "se"]})
    runs = expand(load_grid(path))
    # the three spellings of scse collapse into the first; max, se-reduction2 and se (16) stay distinct
    assert [r.config["model"]["network"]["attention"] for r in runs] == [
        "scse", {"name": "scse", "aggregation": "max"}, {"name": "se", "reduction": 2}, "se"]


def _finished_elsewhere(tmp_path) -> list:
    """A grid of three cells run to completion (fake engine) under tmp_path/runs."""
    path = write_grid(tmp_path)
    assert sweep(str(path)) == 0
    return expand(load_grid(path))


def test_reuse_copies_an_identical_finished_run_instead_of_training(tmp_path):
    source_runs = _finished_elsewhere(tmp_path)
    (tmp_path / "b").mkdir()
    other = write_grid(tmp_path / "b", reuse=[str(tmp_path / "runs")], grid={"model.network.attention": [
        {"name": "scse", "aggregation": "add"}, {"name": "scse", "aggregation": "max"}]})
    runs = expand(load_grid(other))
    assert [r.status for r in runs] == ["todo", "todo"]
    assert sweep(str(other)) == 0
    reused, trained = runs
    source = next(r for r in source_runs if r.name.startswith("scse-"))
    assert reused.name.rsplit("-", 1)[1] == source.name.rsplit("-", 1)[1] and reused.done
    assert calls(reused.dir) == calls(source.dir) and len(calls(source.dir)) == 2  # copied log, no new fit/test
    note = json.loads((reused.dir / "results" / "reused_from.json").read_text(encoding="utf-8"))
    assert Path(note["source"]).resolve() == source.dir.resolve()
    assert (reused.dir / "results" / "summary.json").read_bytes() == (source.dir / "results" / "summary.json").read_bytes()
    # the copy describes itself in its own grid's terms
    own = yaml.safe_load((reused.dir / "run_config.yaml").read_text(encoding="utf-8"))
    assert own["trainer"]["default_root_dir"] == str(reused.dir)
    assert [c.split()[0] for c in calls(trained.dir)] == ["fit", "test"]  # no identical run: trained
    assert not list(reused.dir.glob(".reuse-*"))


def test_reuse_never_touches_a_started_run_or_a_different_config(tmp_path, capsys):
    _finished_elsewhere(tmp_path)
    for sub in ("b", "c"):
        (tmp_path / sub).mkdir()
    # same attention but another epoch count: another config, so nothing to reuse
    other = write_grid(tmp_path / "b", reuse=[str(tmp_path / "runs")], set={"trainer.max_epochs": 3})
    assert not [line for line in _dry(other, capsys) if "(reuse " in line]
    # same config but another tested checkpoint (the source tested last.ckpt): not the same result
    best = write_grid(tmp_path / "b", reuse=[str(tmp_path / "runs")], checkpoint="best.ckpt")
    assert not [line for line in _dry(best, capsys) if "(reuse " in line]
    # a started run (a fit log in its folder) is resumed here, never replaced by a copy
    same = write_grid(tmp_path / "c", reuse=[str(tmp_path / "runs")])
    first = expand(load_grid(same))[0]
    first.dir.mkdir(parents=True)
    (first.dir / "fit.log").write_text("started\n", encoding="utf-8")
    lines = _dry(same, capsys)
    assert len(lines) == 3 and "(reuse " not in lines[0] and all("(reuse " in line for line in lines[1:])


def _dry(path, capsys) -> list[str]:
    capsys.readouterr()
    assert sweep(str(path), dry_run=True) == 0
    return capsys.readouterr().out.splitlines()[:-1]


def test_a_fit_that_exits_0_before_its_budget_is_not_tested_issue25_defect2(tmp_path, monkeypatch):
    """issue 25 defect 2: a SIGTERM'd fit exited 0, so the sweep marked a one-epoch run fitted, tested it and
    counted it complete. Now a fit is done only when results/training.json says its budget was met."""
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    monkeypatch.setenv("FAKE_STOP", "/cse-")  # the second run's fit records "terminated" after epoch 0, exit 0
    assert sweep(str(path), keep_going=True) == 1
    assert [r.status for r in runs] == ["done", "partial", "done"]
    assert [c.split()[0] for c in calls(runs[1].dir)] == ["fit"]  # never tested
    assert "did not finish" in (runs[1].dir / "fit.log").read_text(encoding="utf-8")
    monkeypatch.delenv("FAKE_STOP")
    assert sweep(str(path)) == 0
    assert runs[1].status == "done" and calls(runs[1].dir)[1].endswith(f"--ckpt_path {runs[1].last_ckpt}")


def test_a_truncated_summary_is_not_done_nor_reused_issue25_defect3(tmp_path, capsys):
    """issue 25 defect 3: a truncated results/summary.json counted as done, and ``reuse:`` copied such runs."""
    runs = _finished_elsewhere(tmp_path)
    summary = runs[0].dir / "results" / "summary.json"
    summary.write_text(summary.read_text(encoding="utf-8")[:20], encoding="utf-8")  # e.g. a full disk
    assert [r.status for r in runs] == ["fitted", "done", "done"]
    (tmp_path / "b").mkdir()
    other = write_grid(tmp_path / "b", reuse=[str(tmp_path / "runs")])
    lines = _dry(other, capsys)
    assert "(reuse " not in lines[0] and all("(reuse " in line for line in lines[1:])
    assert sweep(str(write_grid(tmp_path))) == 0  # tests the run again (the fit had met its budget)
    assert [c.split()[0] for c in calls(runs[0].dir)] == ["fit", "test", "test"]
    assert json.loads(summary.read_text(encoding="utf-8"))["mean_dice"] == 0.5


def test_exclude_rules_match_canonical_specs_and_a_rule_matching_nothing_is_an_error_issue25_defect8(tmp_path):
    """issue 25 defect 8: exclude rules that matched nothing (a typo, or ``{name: scse, aggregation: add}`` for
    the cell ``scse``) were ignored silently."""
    runs = expand(load_grid(write_grid(tmp_path, exclude=[{"model.network.attention": {"name": "scse", "aggregation": "add"}}])))
    assert [r.config["model"]["network"]["attention"] for r in runs] == ["none", "cse"]
    for rule in ({"model.network.atention": "cse"}, {"model.network.attention": "sse"}):
        with pytest.raises(ValueError, match=r"exclude rule .* matches no cell of the grid"):
            expand(load_grid(write_grid(tmp_path, exclude=[rule])))


def test_only_matching_no_run_is_an_error_issue25_defect8(tmp_path, capsys):
    """issue 25 defect 8: ``--only 'nosuch-*'`` reported "all 0 runs complete", exit 0."""
    path = write_grid(tmp_path)
    assert sweep(str(path), only="nosuch-*") == 1
    err = capsys.readouterr().err
    assert "--only 'nosuch-*' matches none of the grid's 3 runs (none-" in err
    assert not (tmp_path / "runs").exists()


def test_a_missing_dataset_stops_the_sweep_before_any_run_with_one_message_issue25_item5(tmp_path, capsys):
    """issue 25 part 1 item 5: a sweep over a missing manifest started every run, each failing after a minute
    with a traceback in its fit.log; it now checks once, up front, and names what to run first."""
    (tmp_path / "m.json").unlink()
    path = write_grid(tmp_path, prepare="medseg synth --kind malc --out data/x")
    assert sweep(str(path)) == 1
    err = capsys.readouterr().err
    assert err == ("sweep: no run started: the runs' dataset is not usable:\n  data.manifest m.json does not exist\n"
                   "make the dataset first:\n  medseg synth --kind malc --out data/x\nthen run this sweep again\n")
    assert not (tmp_path / "runs").exists()
    (tmp_path / "m.json").write_text(json.dumps({"labels": {"0": "bg"}, "training": [
        {"id": "s/1", "image": "i.nii.gz", "label": "l.nii.gz"}, {"id": "s2", "image": "gone.nii.gz", "label": "l.nii.gz"}]}))
    assert sweep(str(path)) == 1
    err = capsys.readouterr().err
    assert "training[0]: subject id 's/1' is not a plain file name" in err and "gone.nii.gz: image of subject 's2' not found" in err
    assert not (tmp_path / "runs").exists()
    assert sweep(str(path), dry_run=True) == 0 and "warning only" in capsys.readouterr().err


@pytest.mark.slow
def test_readme_brain_sweep_on_a_fresh_clone_fails_in_seconds_naming_synth_issue25_item5(tmp_path):
    """``medseg sweep experiments/scse_miccai2018/brain.yaml`` without data/brain_pv: one message, exit 1, nothing written."""
    grid = Path(__file__).parents[2] / "experiments" / "scse_miccai2018" / "brain.yaml"
    empty = tmp_path / "clone"
    empty.mkdir()
    done = subprocess.run([sys.executable, "-m", "medseg.cli", "sweep", str(grid)], cwd=empty, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "data.manifest data/brain_pv/dataset.json does not exist" in done.stderr
    assert "medseg synth --kind brain --out data/brain_pv --subjects 20 --resolution 2 --seed 0" in done.stderr
    assert "Traceback" not in done.stderr and list(empty.iterdir()) == []
