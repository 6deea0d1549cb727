"""``medseg report`` on hand-made run folders: numbers against a hand computation, files, errors."""

import csv
import statistics

import numpy as np
import pytest

from medseg.eval.report import load_run, placement_label, report, variant_label
from tests.eval.report_fixtures import ENCODER_MEANS, NONE_MEANS, SCSE_MEANS, make_grid, write_run
from tests.eval.test_stats import exact_signed_rank_p


@pytest.fixture()
def reported(tmp_path):
    make_grid(tmp_path / "runs")
    assert report([str(tmp_path / "runs")], out=str(tmp_path / "out")) == 0
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8") as f:
        rows = {(r["network"], r["column"]): r for r in csv.DictReader(f)}
    return tmp_path / "out", rows


def test_summary_mean_std_delta_p_match_hand_computation(reported):
    _, rows = reported
    scse, none = rows[("unet", "scse@all")], rows[("unet", "none")]
    # the two seeds (±0.01) average back to SCSE_MEANS; background rows and NaN structures are excluded
    assert float(scse["mean_dice"]) == pytest.approx(statistics.fmean(SCSE_MEANS))
    assert float(scse["std_dice"]) == pytest.approx(statistics.stdev(SCSE_MEANS))
    assert float(none["mean_dice"]) == pytest.approx(statistics.fmean(NONE_MEANS))
    diffs = [a - b for a, b in zip(SCSE_MEANS, NONE_MEANS)]
    assert float(scse["delta_vs_baseline"]) == pytest.approx(statistics.fmean(diffs))
    # hand: |d| ranks 5,2,3,1,6,4 → W+ = 15, W- = 6; exact two-sided p by enumeration (= 0.4375)
    assert float(scse["wilcoxon_p"]) == pytest.approx(exact_signed_rank_p([round(d, 6) for d in diffs]))
    assert float(scse["wilcoxon_p"]) == pytest.approx(28 / 64)
    assert scse["runs"] == "2" and scse["subjects"] == "6" and scse["params"] == "1100"
    enc = rows[("unet", "scse@encoder")]
    assert float(enc["mean_dice"]) == pytest.approx(statistics.fmean(ENCODER_MEANS))
    assert none["wilcoxon_p"] == "nan" and ("sdnet", "none") in rows


def test_per_structure_table_matches_hand_computation(reported):
    out, _ = reported
    with (out / "per_structure.csv").open(encoding="utf-8") as f:
        rows = {(r["network"], r["column"], r["structure"]): r for r in csv.DictReader(f)}
    a = [m + 0.1 for m in NONE_MEANS[:-1]] + [NONE_MEANS[-1]]
    b = [m - 0.1 for m in NONE_MEANS[:-1]]
    assert float(rows[("unet", "none", "A")]["mean_dice"]) == pytest.approx(statistics.fmean(a))
    assert float(rows[("unet", "none", "B")]["std_dice"]) == pytest.approx(statistics.stdev(b))
    assert rows[("unet", "none", "B")]["subjects"] == "5"
    assert not any(k[2] == "background" for k in rows)


def test_markdown_latex_and_figures_are_written(reported):
    out, _ = reported
    md = (out / "report.md").read_text(encoding="utf-8")
    with (out / "summary.csv").open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["column"] == "scse@all")
    expected = f"{statistics.fmean(SCSE_MEANS):.3f} [{float(row['ci_low']):.3f}, {float(row['ci_high']):.3f}]"
    assert expected in md and "| network | none | scse@all | scse@encoder |" in md
    assert "Budget: unknown" in md and "convergence unknown (no CSV logs)" in md  # fixtures without configs/logs
    tex = (out / "report.tex").read_text(encoding="utf-8")
    assert r"\begin{tabular}" in tex and expected in tex
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["boxplot_toy_sdnet.png", "boxplot_toy_unet.png", "placement_toy_unet_scse.png"]
    assert all((out / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_labels():
    assert variant_label(None) == "none" and variant_label("SCSE") == "scse"
    assert variant_label({"name": "scse", "aggregation": "max", "reduction": 2}) == "scse-max"
    assert variant_label({"name": "cse", "reduction": 16}) == "cse-reduction16"
    assert placement_label(["enc1", "dec1"]) == "enc1+dec1" and placement_label(None) == "all"
    assert placement_label({"enc1": "cse", "bottleneck": {"name": "scse"}}) == "enc1:cse+bottleneck:scse"


def test_missing_column_names_file_and_column(tmp_path):
    run = write_run(tmp_path, "r", "unet", "none", "all", NONE_MEANS)
    path = run / "results" / "dice_per_structure.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("dice", "dsc", 1))
    with pytest.raises(ValueError, match=r"dice_per_structure\.csv lacks column\(s\) \['dice'\]"):
        load_run(run)


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder"):
        report([str(tmp_path)], out=str(tmp_path / "out"))
    (tmp_path / "half" / "results").mkdir(parents=True)
    (tmp_path / "half" / "results" / "summary.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="dice_per_structure.csv not found"):
        load_run(tmp_path / "half")


def test_box_plot_legend_follows_the_paper_order(tmp_path):
    from medseg.eval.report import _figures, find_runs, group_cells

    for variant in ("scse", "sse", "none", "cse"):  # written out of order on purpose
        write_run(tmp_path, f"unet-{variant}", "unet", variant, "all", NONE_MEANS)
    cells = group_cells([load_run(p) for p in find_runs([str(tmp_path)])])
    name, figure = next(_figures(cells, "none"))
    labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert name == "boxplot_toy_unet.png" and labels == ["none", "cse", "sse", "scse"]


# ---------------------------------------------------------------- two seeds: CIs, seed std, convergence, curves
from medseg.eval.stats import bootstrap_ci, paired_bootstrap_ci  # noqa: E402
from tests.eval.report_fixtures import SEED_SHIFT, SUBJECTS, make_seed_grid  # noqa: E402


def _seed_matrix(means, shift):
    """Subjects × seeds as the fixtures build them: seed 0 = m + shift, seed 1 = m - shift."""
    return np.array([[m + shift, m - shift] for m in means])


@pytest.fixture()
def seed_report(tmp_path):
    make_seed_grid(tmp_path / "runs")
    assert report([str(tmp_path / "runs")], out=str(tmp_path / "out")) == 0
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8") as f:
        rows = {r["column"]: r for r in csv.DictReader(f)}
    return tmp_path / "out", rows


def test_two_seed_grid_ci_seed_std_and_delta(seed_report):
    _, rows = seed_report
    none, scse = _seed_matrix(NONE_MEANS, SEED_SHIFT["none"]), _seed_matrix(SCSE_MEANS, SEED_SHIFT["scse"])
    for column, matrix, shift in (("none", none, SEED_SHIFT["none"]), ("scse", scse, SEED_SHIFT["scse"])):
        row = rows[column]
        assert row["seeds"] == "2" and row["runs"] == "2" and row["subjects"] == str(len(SUBJECTS))
        # seed means differ by 2·shift → sample std = 2·shift/√2
        assert float(row["seed_std"]) == pytest.approx(statistics.stdev([shift, -shift]))
        _, lo, hi = bootstrap_ci(matrix)  # the report's bootstrap on the hand-built matrix
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((lo, hi))
        assert lo < statistics.fmean(NONE_MEANS if column == "none" else SCSE_MEANS) < hi
    delta, lo, hi = paired_bootstrap_ci(scse, none)
    assert float(rows["scse"]["delta_vs_baseline"]) == pytest.approx(delta)
    assert (float(rows["scse"]["delta_ci_low"]), float(rows["scse"]["delta_ci_high"])) == pytest.approx((lo, hi))
    # Wilcoxon on seed-averaged subjects: the seed shifts cancel → the same p as the one-seed hand computation
    diffs = [a - b for a, b in zip(SCSE_MEANS, NONE_MEANS)]
    assert float(rows["scse"]["wilcoxon_p"]) == pytest.approx(exact_signed_rank_p([round(d, 6) for d in diffs]))
    # |Δ| = 1/60 < seed std of scse (0.042): within seed noise
    assert rows["scse"]["exceeds_seed_noise"] == "False"


def test_two_seed_grid_convergence_marks_and_budget(seed_report):
    out, rows = seed_report
    assert rows["none"]["not_converged"] == "0" and rows["none"]["convergence_known"] == "2"
    assert rows["scse"]["not_converged"] == "1" and "max_epochs×1" in rows["scse"]["stop_reasons"]
    md = (out / "report.md").read_text(encoding="utf-8")
    assert f"[{float(rows['scse']['ci_low']):.3f}, {float(rows['scse']['ci_high']):.3f}] †1/2 |" in md
    assert "early_stopping×2; converged 2/2" in md and "0.042 (n=2)" in md and "within seed noise" in md
    # training minutes per run from training.json (the fixture: 2 min per epoch), in run order
    epochs = rows["none"]["epochs"].split("/")
    assert rows["none"]["fit_minutes"] == "/".join(str(2 * int(e)) for e in epochs)
    assert f"epochs {rows['none']['epochs']}; fit min {rows['none']['fit_minutes']}" in md
    assert "equal epochs, `trainer.max_epochs` = 20 per run" in md
    png = out / "learning_curves_toy.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and "learning_curves_toy.png" in md


def test_wall_time_budget_and_mixed_budgets_are_stated(tmp_path):
    make_seed_grid(tmp_path / "timed", trainer={"max_time": "00:00:10:00", "max_epochs": 1000})
    report([str(tmp_path / "timed")], out=str(tmp_path / "o1"))
    md = (tmp_path / "o1" / "report.md").read_text(encoding="utf-8")
    assert "equal wall time, `trainer.max_time` = 00:00:10:00 per run (and at most 1000 epochs)" in md
    write_run(tmp_path / "timed", "unet-sse", "unet", "sse", "all", NONE_MEANS, seed=0, trainer={"max_epochs": 5})
    report([str(tmp_path / "timed")], out=str(tmp_path / "o2"))
    assert "**differs between runs**" in (tmp_path / "o2" / "report.md").read_text(encoding="utf-8")


def test_reused_runs_are_counted_in_the_report(tmp_path):
    make_seed_grid(tmp_path / "runs")
    report([str(tmp_path / "runs")], out=str(tmp_path / "o1"))
    assert "copies of another grid" not in (tmp_path / "o1" / "report.md").read_text(encoding="utf-8")
    copied = sorted((tmp_path / "runs").iterdir())[0]
    (copied / "results" / "reused_from.json").write_text('{"source": "elsewhere/run"}', encoding="utf-8")
    assert load_run(copied).reused_from == "elsewhere/run"
    report([str(tmp_path / "runs")], out=str(tmp_path / "o2"))
    assert " 1 of the runs are copies of another grid's identical runs" in (tmp_path / "o2" / "report.md").read_text(encoding="utf-8")


def test_a_cell_mixing_two_recipes_is_an_error_naming_runs_and_keys(tmp_path):
    """Seeds of one cell may differ in seed (and fold, folder); a run of another recipe may not join them."""
    make_seed_grid(tmp_path / "runs")  # seeds 0, 1 with max_epochs 20
    report([str(tmp_path / "runs")], out=str(tmp_path / "ok"))  # seeds differ only in seed_everything: fine
    write_run(tmp_path / "runs", "unet-none-seed2", "unet", "none", "all", NONE_MEANS, seed=2,
              trainer={"max_epochs": 30})
    with pytest.raises(ValueError, match=r"unet/none@all mixes runs of different configs: .*unet-none-seed0 and "
                                         r".*unet-none-seed2 differ in trainer.max_epochs: 20 vs 30"):
        report([str(tmp_path / "runs")], out=str(tmp_path / "bad"))
    assert not (tmp_path / "bad" / "report.md").exists()


# ---------------------------------------------------------------- issue 25: unfinished runs, backups, baseline
def _unfinished_and_backup(root):
    """make_grid's 5 runs; a sweep's pending run (run_config.yaml only), a run being fitted (config.yaml +
    checkpoints), a run with a truncated summary.json, and ``fit --overwrite true`` backups in two runs."""
    import shutil

    runs = make_grid(root)
    (root / "unet-sse-todo").mkdir()
    (root / "unet-sse-todo" / "run_config.yaml").write_text("trainer: {}\n", encoding="utf-8")
    (root / "unet-cse-fitting" / "checkpoints").mkdir(parents=True)
    (root / "unet-cse-fitting" / "config.yaml").write_text("trainer: {}\n", encoding="utf-8")
    cut = write_run(root, "unet-cse-cut", "unet", "cse", "all", NONE_MEANS) / "results" / "summary.json"
    cut.write_text(cut.read_text(encoding="utf-8")[:15], encoding="utf-8")
    for run in runs[:2]:  # D/previous/<stamp>/ holds a whole earlier run: config.yaml, results/, ...
        shutil.copytree(run, run / "previous" / "20260101-000000")
    return runs


def test_backups_in_previous_are_not_runs_issue25_defect5(tmp_path):
    """issue 25 defect 5: ``D/previous/<stamp>/`` backups (fit --overwrite true) were counted as extra runs."""
    from medseg.eval.report import find_runs, scan_runs

    runs = _unfinished_and_backup(tmp_path / "runs")
    assert find_runs([str(tmp_path / "runs")]) == sorted(runs)
    finished, unfinished = scan_runs([str(tmp_path / "runs")])
    assert not [p for p in finished + [u for u, _ in unfinished] if "previous" in p.parts]


def test_unfinished_run_folders_are_named_not_silently_dropped_issue25_defect4(tmp_path, capsys):
    """issue 25 defect 4: a mid-sweep report left out unfinished run folders without a word."""
    from medseg.eval.report import scan_runs

    _unfinished_and_backup(tmp_path / "runs")
    _, unfinished = scan_runs([str(tmp_path / "runs")])
    reasons = {p.name: why for p, why in unfinished}
    assert set(reasons) == {"unet-sse-todo", "unet-cse-fitting", "unet-cse-cut"}
    assert reasons["unet-sse-todo"] == "no results/summary.json yet (not fitted)"
    assert reasons["unet-cse-fitting"] == "no results/summary.json yet"
    assert "summary.json: not a test summary (JSON error" in reasons["unet-cse-cut"]
    assert report([str(tmp_path / "runs")], out=str(tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert "report: 3 unfinished run folder(s) left out (no readable test results): " in err
    head = (tmp_path / "out" / "report.md").read_text(encoding="utf-8").split("\n\n")[1]
    assert head.startswith("5 runs, 4 cells") and "3 unfinished run folder(s) left out" in head and "unet-sse-todo" in head


def test_unknown_baseline_is_an_error_listing_the_variants_issue25_defect9(tmp_path):
    """issue 25 defect 9: ``medseg report --baseline typo`` printed a Δ table of n/a, exit 0."""
    from medseg.cli import main

    make_grid(tmp_path / "runs")
    with pytest.raises(ValueError, match=r"--baseline 'nonee' is not a variant of these runs; choose one of none, scse$"):
        main(["report", str(tmp_path / "runs"), "--out", str(tmp_path / "out"), "--baseline", "nonee"])
    assert not (tmp_path / "out").exists()


def test_a_width_control_gets_its_own_row_with_delta_and_mde_against_the_baseline(tmp_path):
    """Runs of one network with other model.network.options (a positive control at half width) form the
    row `unet (features=8)`; its Δ, CI and MDE are against `unet`'s none, paired by subject."""
    from medseg.eval.stats import minimal_detectable_effect, seed_std

    runs = tmp_path / "runs"
    wide, narrow = {"features": 16, "depth": 4}, {"features": 8, "depth": 4}
    control = [m - 0.1 + 0.01 * i for i, m in enumerate(NONE_MEANS)]
    for seed in (0, 1):
        shift = 0.02 * (1 if seed == 0 else -1)
        write_run(runs, f"unet-none-seed{seed}", "unet", "none", "all", NONE_MEANS, shift, seed=seed, network_options=wide)
        write_run(runs, f"unet-scse-seed{seed}", "unet", "scse", "all", SCSE_MEANS, shift, seed=seed, network_options=wide)
        write_run(runs, f"unet8-none-seed{seed}", "unet", "none", "all", control, shift / 2, seed=seed,
                  network_options=narrow)
    assert report([str(runs)], out=str(tmp_path / "out")) == 0
    with (tmp_path / "out" / "summary.csv").open(encoding="utf-8") as f:
        rows = {(r["network"], r["column"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("unet", "none"), ("unet", "scse"), ("unet (features=8)", "none")}
    row = rows[("unet (features=8)", "none")]
    assert row["compared_to"] == "unet/none" and rows[("unet", "none")]["compared_to"] == ""
    diffs = np.subtract(control, NONE_MEANS)  # seed shifts cancel in the seed-averaged scores
    assert float(row["delta_vs_baseline"]) == pytest.approx(diffs.mean())
    none_matrix = _seed_matrix(NONE_MEANS, 0.02)
    ctrl_matrix = _seed_matrix(control, 0.01)
    expected = minimal_detectable_effect(diffs, seed_std(ctrl_matrix), 2, seed_std(none_matrix), 2)
    assert float(row["mde"]) == pytest.approx(expected) and float(row["delta_ci_high"]) < 0
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert f"| unet (features=8) | {float(row['delta_vs_baseline']):+.3f} [" in md and f"MDE {expected:.3f}" in md
    names = [line.split(" |")[0] for line in md.splitlines() if line.startswith("| unet")]
    assert names[:2] == ["| unet", "| unet (features=8)"]  # the control follows its network
