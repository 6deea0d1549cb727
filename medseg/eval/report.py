"""``medseg report RUN_DIRS... --out DIR``: paper-style tables and figures from run folders.

Reads ``D/results/summary.json`` and ``D/results/dice_per_structure.csv`` (docs/internals.md), and when
present ``D/config.yaml`` (seed, budget), ``D/results/training.json`` (stop reason) and the CSV logs
``D/csv/version_*/metrics.csv`` (learning curves). Runs are grouped into cells (dataset, network,
variant, placement); runs of one cell are seeds or folds. A subject's score is its mean foreground Dice
(NaN structures, i.e. absent from both reference and prediction, excluded; never 0 or 1); per-structure
figures state the number of subjects they rest on. Per cell: the mean over subjects of the seed-averaged scores with its 95 %
CI (crossed bootstrap over subjects × seeds, ``medseg.eval.stats``), the seed-to-seed std, ΔDice
against the no-attention cell of the same network with its paired bootstrap CI, the two-sided
Wilcoxon signed-rank p on the seed-averaged per-subject scores and the minimal detectable effect
(80 % power, α = 0.05), and convergence: a run is "not
converged" when its validation Dice was still rising at the end (``medseg.eval.convergence``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import yaml

from medseg.atomic import atomic_write, save_figure
from medseg.backup import move_to_backup
from medseg.blocks import canonical_attention
from medseg.eval import plots
from medseg.eval.results import COUNT_COLUMNS, read_summary
from medseg.eval.convergence import LAST_FRACTION, RISE_TOLERANCE, Curve, best_epoch, read_curve, still_rising
from medseg.eval.stats import (BOOTSTRAP_RESAMPLES, MDE_ALPHA, MDE_POWER, bootstrap_ci, mean_std, minimal_detectable_effect,
                               paired, paired_bootstrap_ci, seed_std, wilcoxon_p)
from medseg.run_identity import canonical_config

REQUIRED_COLUMNS = ("subject", "structure_id", "structure", "dice")
# what a report writes into --out; an earlier report's are moved to OUT/previous/<stamp>/ first
REPORT_FILES = ("report.md", "report.tex", "summary.csv", "per_structure.csv")
FIGURE_GLOBS = ("learning_curves_*.png", "boxplot_*.png", "placement_*.png")
# table order: the scSE paper's (Table 1) for networks and variants; others follow alphabetically
NETWORK_ORDER = ("unet", "sdnet", "fcdensenet", "quicknat")
VARIANT_ORDER = ("none", "se", "cse", "sse", "scse")


def variant_label(attention: str | dict | None) -> str:
    """``None``/"none" → "none"; "scse" → "scse"; {"name": "scse", "aggregation": "max"} → "scse-max".

    Options equal to the block's defaults are left out (:func:`medseg.blocks.canonical_attention`)."""
    if attention is None:
        return "none"
    if isinstance(attention, str):
        return attention.lower()
    if isinstance(attention, dict) and "name" in attention:
        canonical = canonical_attention(attention)
        if isinstance(canonical, str):
            return canonical
        extra = [f"{v}" if k == "aggregation" else f"{k}{v}" for k, v in canonical.items() if k != "name"]
        return "-".join([canonical["name"], *extra])
    raise ValueError(f"cannot label attention spec {attention!r}: expected a name, a dict with 'name', or null")


def placement_label(placement: str | list | dict | None) -> str:
    """"all" / ["enc1", "dec1"] → "enc1+dec1" / {"enc1": "cse"} → "enc1:cse"."""
    if placement is None:
        return "all"
    if isinstance(placement, str):
        return placement
    if isinstance(placement, (list, tuple)):
        return "+".join(map(str, placement)) or "nowhere"
    if isinstance(placement, dict):
        return "+".join(f"{k}:{variant_label(v)}" for k, v in placement.items())
    raise ValueError(f"cannot label placement {placement!r}")


@dataclass
class RunResult:
    """One run folder's test results: ``dice[structure][subject]`` (foreground structures only)."""

    run_dir: Path
    dataset: str
    network: str
    variant: str
    placement: str
    params: int | None
    attention_params: int | None
    structures: list[str]
    dice: dict[str, dict[str, float]]
    seed: int | None = None
    budget: dict | None = None  # trainer.max_epochs / trainer.max_time of the run's config
    training: dict | None = None  # results/training.json
    curve: Curve = field(default_factory=Curve)
    reused_from: str | None = None  # results/reused_from.json: a copy of another grid's identical run
    config: dict = field(default_factory=dict)  # the run's config (config.yaml, else run_config.yaml)
    voxels: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # structure → subject → (reference, predicted)

    def subject_scores(self) -> dict[str, float]:
        """Subject → mean foreground Dice of this run (NaN structures excluded)."""
        subjects = sorted({k for d in self.dice.values() for k in d})
        out = {}
        for subject in subjects:
            v = np.array([self.dice[s].get(subject, math.nan) for s in self.structures])
            out[subject] = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
        return out

    @property
    def converged(self) -> bool | None:
        """False when validation Dice was still rising at the end; None when undecidable (no logs)."""
        rising = still_rising(self.curve.val_dice)
        return None if rising is None else not rising


def _run_config(run_dir: Path) -> dict:
    """The fit's resolved config (D/config.yaml), else the sweep's run_config.yaml, else {}."""
    for name in ("config.yaml", "run_config.yaml"):
        path = run_dir / name
        if path.is_file():
            try:
                return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as error:
                raise ValueError(f"report: {path} is not valid YAML: {error}") from None
    return {}


def _read_json(path: Path, kind: type = dict) -> Any:
    """The JSON object in ``path``; a truncated or corrupt file is a ValueError naming it (issue 25 defect 23)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"report: {path} is not valid JSON ({error}); the file is truncated or corrupt: "
                         "re-run `medseg test` for that run, or leave the run folder out") from None
    if not isinstance(value, kind):
        raise ValueError(f"report: {path} holds a {type(value).__name__}, not a JSON object")
    return value


def _int(text: str | None, path: Path, line: int, column: str) -> int:
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"report: {path} line {line}: {column} {text!r} is not an integer") from None


def load_run(run_dir: str | Path) -> RunResult:
    """Read one run folder; errors name the file and what is missing."""
    run_dir = Path(run_dir)
    summary_path, csv_path = run_dir / "results" / "summary.json", run_dir / "results" / "dice_per_structure.csv"
    for p in (summary_path, csv_path):
        if not p.is_file():
            raise FileNotFoundError(f"report: {p} not found (is {run_dir} a tested run folder?)")
    summary = _read_json(summary_path)
    missing = [k for k in ("network",) if k not in summary]
    if missing:
        raise KeyError(f"report: {summary_path} lacks key(s) {missing}; has {sorted(summary)}")
    try:
        with csv_path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            absent = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise ValueError(f"report: {csv_path} lacks column(s) {absent}; expected {list(REQUIRED_COLUMNS)}, "
                                 f"got {reader.fieldnames}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"report: {csv_path} is not a readable CSV file ({error})") from None
    dice: dict[str, dict[str, float]] = defaultdict(dict)
    voxels: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    counted = all(c in (reader.fieldnames or []) for c in COUNT_COLUMNS)  # results written before 2026-12-03 lack them
    order: dict[str, int] = {}
    for i, row in enumerate(rows, start=2):
        if None in row.values():
            raise ValueError(f"report: {csv_path} line {i}: fewer cells than the {len(reader.fieldnames)} columns "
                             "(a truncated file?)")
        structure_id = _int(row["structure_id"], csv_path, i, "structure_id")
        if structure_id == 0:
            continue
        try:
            value = float(row["dice"]) if row["dice"].strip() not in ("", "nan", "NaN") else math.nan
        except ValueError:
            raise ValueError(f"report: {csv_path} line {i}: dice {row['dice']!r} is not a number") from None
        dice[row["structure"]][row["subject"]] = value
        order[row["structure"]] = structure_id
        if counted:
            voxels[row["structure"]][row["subject"]] = (_int(row["reference_voxels"], csv_path, i, "reference_voxels"),
                                                        _int(row["predicted_voxels"], csv_path, i, "predicted_voxels"))
    config = _run_config(run_dir)
    trainer = config.get("trainer") or {}
    seed = config.get("seed_everything")
    training_path = run_dir / "results" / "training.json"
    training = _read_json(training_path) if training_path.is_file() else None
    reused_path = run_dir / "results" / "reused_from.json"
    reused_from = _read_json(reused_path).get("source") if reused_path.is_file() else None
    return RunResult(
        run_dir=run_dir,
        dataset=str(summary.get("dataset") or "dataset"),
        network=str(summary["network"]),
        variant=variant_label(summary.get("attention")),
        placement=placement_label(summary.get("placement")),
        params=summary.get("params"),
        attention_params=summary.get("attention_params"),
        structures=sorted(order, key=order.get),
        dice=dict(dice),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        budget={k: trainer.get(k) for k in ("max_epochs", "max_time")} if config else None,
        training=training,
        curve=read_curve(run_dir),
        reused_from=reused_from,
        config=config,
        voxels=dict(voxels),
    )


@dataclass
class Cell:
    """All runs of one (dataset, network, variant, placement): seeds/folds merged per subject."""

    dataset: str
    network: str
    variant: str
    placement: str
    runs: list[RunResult] = field(default_factory=list)
    column: str = ""  # table column: the variant, with "@placement" when the variant has several
    base_network: str = ""  # the network this row varies (a width control's Δ is against its baseline)

    @property
    def structures(self) -> list[str]:
        return list(dict.fromkeys(s for r in self.runs for s in r.structures))

    def structure_dice(self, structure: str) -> dict[str, float]:
        """Subject → Dice of one structure, averaged over the cell's runs that tested the subject."""
        values: dict[str, list[float]] = defaultdict(list)
        for run in self.runs:
            for subject, v in run.dice.get(structure, {}).items():
                values[subject].append(v)
        return {s: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for s, v in values.items()}

    def voxel_outcomes(self, structure: str) -> tuple[int, int] | None:
        """``(absent but predicted, missed)``: how many test subjects lack ``structure`` in the reference yet
        some run predicted it (Dice 0 there), and how many have it while some run predicted none of it;
        None when a run's results carry no voxel counts."""
        if not self.runs or any(structure not in r.voxels for r in self.runs if structure in r.dice):
            return None
        false_alarm, missed = set(), set()
        for run in self.runs:
            for subject, (reference, predicted) in run.voxels.get(structure, {}).items():
                if reference == 0 and predicted > 0:
                    false_alarm.add(subject)
                elif reference > 0 and predicted == 0:
                    missed.add(subject)
        return len(false_alarm), len(missed)

    def subject_dice(self) -> dict[str, float]:
        """Subject → mean foreground Dice over structures (NaN structures excluded)."""
        per = [self.structure_dice(s) for s in self.structures]
        subjects = sorted({k for d in per for k in d})
        out = {}
        for subject in subjects:
            v = np.array([d.get(subject, math.nan) for d in per])
            out[subject] = float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
        return out

    def score_matrix(self, subjects: list[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Subjects × seeds matrix of subject scores (NaN where no run of that seed tested the subject).

        Runs with the same seed (folds) share a column; runs without a known seed each get their own.
        """
        columns: dict[object, list[RunResult]] = defaultdict(list)
        for i, run in enumerate(self.runs):
            columns[run.seed if run.seed is not None else ("run", i)].append(run)
        scores = [[r.subject_scores() for r in runs] for runs in columns.values()]
        if subjects is None:
            subjects = sorted({k for col in scores for d in col for k in d})
        matrix = np.full((len(subjects), len(scores)), math.nan)
        for j, col in enumerate(scores):
            for i, subject in enumerate(subjects):
                v = np.array([d[subject] for d in col if subject in d], dtype=np.float64)
                if np.isfinite(v).any():
                    matrix[i, j] = np.nanmean(v)
        return subjects, matrix

    @property
    def seeds(self) -> int:
        return self.score_matrix()[1].shape[1]

    @property
    def params(self) -> int | None:
        return self.runs[0].params


# keys in which the runs of one cell may differ: they are its repeats
REPEAT_KEYS = ("seed_everything", "data.fold", "trainer.default_root_dir", "ckpt_path")


def _flat(config: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _protocol(run: RunResult) -> dict[str, Any]:
    """A run's config without what may differ between the repeats of one cell (seed, fold, folder)."""
    flat = _flat(canonical_config(run.config))
    return {k: v for k, v in flat.items() if k not in REPEAT_KEYS}


def check_one_protocol(cell: "Cell") -> None:
    """The runs of a cell must differ only in seed or fold: runs of another recipe (patience, lr, epochs)
    would be averaged in silently. Keys present in both configs are compared (a key one config lacks is
    unknown there, not different); runs without a config are not checked."""
    known = [r for r in cell.runs if r.config]
    a = _protocol(known[0]) if known else {}
    for run in known[1:]:
        b = _protocol(run)
        keys = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        if keys:
            shown = "; ".join(f"{k}: {a[k]!r} vs {b[k]!r}" for k in keys[:5])
            raise ValueError(
                f"report: cell {cell.network}/{cell.variant}@{cell.placement} mixes runs of different configs: "
                f"{known[0].run_dir} and {run.run_dir} differ in {shown}{' ...' if len(keys) > 5 else ''}. "
                "Report each protocol's run folders separately.")


def _network_options(run: RunResult) -> dict:
    options = ((run.config.get("model") or {}).get("network") or {}).get("options") or {}
    return options if isinstance(options, dict) else {}


def name_network_variants(runs: list[RunResult]) -> dict[int, tuple[str, str]]:
    """id(run) → (table network name, base network). Runs of one network with other ``model.network.options``
    than the network's most used ones (e.g. a width control) get their own row, named by what differs:
    ``unet (features=8)``; their Δ is taken against the base network's baseline cell."""
    by_network: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for run in runs:
        by_network[(run.dataset, run.network)].append(run)
    names = {}
    for (_, network), group in by_network.items():
        keys = [json.dumps(_network_options(r), sort_keys=True, default=str) for r in group]
        common = max(dict.fromkeys(keys), key=keys.count)  # ties: the first seen
        default = json.loads(common)
        for run, key in zip(group, keys):
            options = _network_options(run)
            differs = [f"{k}={options.get(k)}" for k in sorted(options.keys() | default.keys(), key=str)
                       if options.get(k) != default.get(k)]
            names[id(run)] = (f"{network} ({', '.join(differs)})" if key != common else network, network)
    return names


def group_cells(runs: list[RunResult]) -> dict[tuple[str, str, str, str], Cell]:
    """Runs grouped by (dataset, network, variant, placement); a cell's runs must share one config
    but for seed and fold (:func:`check_one_protocol`). Network options other than the network's usual
    ones make a row of their own (:func:`name_network_variants`)."""
    cells: dict[tuple[str, str, str, str], Cell] = {}
    names = name_network_variants(runs)
    for run in runs:
        network, base_network = names[id(run)]
        key = (run.dataset, network, run.variant, run.placement)
        cells.setdefault(key, Cell(*key, base_network=base_network)).runs.append(run)
    for cell in cells.values():
        check_one_protocol(cell)
    for cell in cells.values():
        several = len({k[3] for k in cells if k[:3] == (cell.dataset, cell.network, cell.variant)}) > 1
        cell.column = f"{cell.variant}@{cell.placement}" if several else cell.variant
    return cells


RUN_MARKERS = ("run_config.yaml", "config.yaml", "results/summary.json")  # what makes a folder a run folder


def _is_run_folder(path: Path) -> bool:
    return any((path / m).is_file() for m in RUN_MARKERS)


def _inside_run_folder(path: Path, top: Path) -> bool:
    """Whether ``path`` (under ``top``) lies inside another run folder: its ``previous/<stamp>/`` backups
    (``fit --overwrite true``; issue 25 defect 5) or a logger's files (``wandb/*/files/config.yaml``)."""
    parts = path.relative_to(top).parts
    return any(_is_run_folder(top.joinpath(*parts[:i])) for i in range(1, len(parts)))


def _unfinished_reason(run: Path) -> str | None:
    """Why run folder ``run`` has no test results to report, or None when it has."""
    summary = run / "results" / "summary.json"
    if not summary.is_file():
        return "no results/summary.json yet" + ("" if (run / "checkpoints").is_dir() else " (not fitted)")
    try:
        read_summary(summary)
    except (OSError, ValueError) as error:
        return str(error)
    return None


def scan_runs(paths: list[str]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(finished, unfinished)``: each path is a run folder or a folder searched for run folders (a folder
    holding ``run_config.yaml``, ``config.yaml`` or ``results/summary.json``); folders inside a run folder
    (its ``previous/<stamp>/`` backups) are not runs. ``finished`` have readable test results (:func:`read_summary`);
    ``unfinished`` pairs each other run folder with why (issue 25 defect 4: left out, but said so)."""
    candidates: list[Path] = []
    for p in map(Path, paths):
        if _is_run_folder(p):
            candidates.append(p)
        elif p.is_dir():
            found = {m.parent for marker in ("run_config.yaml", "config.yaml") for m in p.rglob(marker)}
            found |= {s.parent.parent for s in p.rglob("results/summary.json")}
            candidates.extend(sorted(c for c in found if not _inside_run_folder(c, p)))
        else:
            raise FileNotFoundError(f"report: {p} is neither a run folder nor a directory")
    finished, unfinished = [], []
    for run in dict.fromkeys(candidates):
        reason = _unfinished_reason(run)
        (finished.append(run) if reason is None else unfinished.append((run, reason)))
    return finished, unfinished


def find_runs(paths: list[str]) -> list[Path]:
    """The run folders with test results among ``paths`` (see :func:`scan_runs`)."""
    return _finished(paths, *scan_runs(paths))


def _finished(paths: list[str], finished: list[Path], unfinished: list[tuple[Path, str]]) -> list[Path]:
    if not finished:
        if unfinished:  # say which folders and why (a corrupt summary.json is named with its parse error)
            raise ValueError(f"report: no finished run under {paths}: {unfinished_note(unfinished)}")
        raise FileNotFoundError(f"report: no run folder with results/summary.json under {paths}")
    return finished


def unfinished_note(unfinished: list[tuple[Path, str]]) -> str:
    """One line naming the run folders left out of a report, or ''."""
    if not unfinished:
        return ""
    shown = "; ".join(f"{run.name}: {why}" for run, why in unfinished[:10])
    more = f"; ... and {len(unfinished) - 10} more" if len(unfinished) > 10 else ""
    return f"{len(unfinished)} unfinished run folder(s) left out (no readable test results): {shown}{more}"


def _count(values: list[str]) -> str:
    """["max_epochs", "early_stopping", "max_epochs"] → "max_epochs×2, early_stopping×1"."""
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return ", ".join(f"{k}×{n}" for k, n in counts.items())


def summary_rows(cells: dict, baseline: str = "none") -> list[dict]:
    """One row per cell: subjects, seeds, mean with its 95 % CI, subject std, seed std, ΔDice vs the
    baseline cell with its CI and Wilcoxon p, convergence and stop reasons, parameters."""
    rows = []
    for (dataset, network, variant, placement), cell in cells.items():
        subj = cell.subject_dice()
        mean, std = mean_std(list(subj.values()))
        _, matrix = cell.score_matrix()
        _, ci_low, ci_high = bootstrap_ci(matrix)
        base_network = cell.base_network or network
        base = next((c for k, c in cells.items() if k[:2] == (dataset, base_network) and k[2] == baseline), None)
        delta = p = d_low = d_high = noise = mde = math.nan
        compared_to = ""
        if base is not None and base is not cell:
            ids, x, y = paired(subj, base.subject_dice())
            if len(x):
                compared_to = f"{base.network}/{base.column}"
                delta, p = float(np.mean(x - y)), wilcoxon_p(x, y)
                _, d_low, d_high = paired_bootstrap_ci(cell.score_matrix(ids)[1], base.score_matrix(ids)[1])
                base_matrix = base.score_matrix()[1]
                noise = max((v for v in (seed_std(matrix), seed_std(base_matrix)) if math.isfinite(v)),
                            default=math.nan)
                mde = minimal_detectable_effect(x - y, seed_std(matrix), matrix.shape[1], seed_std(base_matrix),
                                                base_matrix.shape[1])
        converged = [r.converged for r in cell.runs]
        rows.append({
            "dataset": dataset, "network": network, "variant": variant, "placement": placement,
            "column": cell.column, "runs": len(cell.runs), "seeds": matrix.shape[1],
            "subjects": int(sum(np.isfinite(v) for v in subj.values())),
            "mean_dice": mean, "ci_low": ci_low, "ci_high": ci_high, "std_dice": std, "seed_std": seed_std(matrix),
            "compared_to": compared_to,
            "delta_vs_baseline": delta, "delta_ci_low": d_low, "delta_ci_high": d_high, "wilcoxon_p": p,
            # smallest |Δ| this comparison detects with 80 % power at α = 0.05 (medseg.eval.stats)
            "mde": mde,
            # |Δ| > the larger seed std of the two cells (empty when a cell has one seed: noise unknown)
            "exceeds_seed_noise": "" if not math.isfinite(noise) else abs(delta) > noise,
            "not_converged": sum(c is False for c in converged), "convergence_known": sum(c is not None for c in converged),
            "stop_reasons": _count([(r.training or {}).get("stop_reason", "unknown") for r in cell.runs]),
            "epochs": "/".join(str(len(r.curve.val_epochs) or "?") for r in cell.runs),
            "best_epochs": "/".join(str(best_epoch(r.curve) if r.curve.val_epochs else "?") for r in cell.runs),
            # training wall time per run (training.json train_seconds, summed over resumed fits)
            "fit_minutes": "/".join(_minutes((r.training or {}).get("train_seconds")) for r in cell.runs),
            "params": cell.params, "attention_params": cell.runs[0].attention_params,
        })
    return rows


def budget_statement(runs: list[RunResult]) -> str:
    """Which budget the runs were given (read from their configs): equal epochs, equal wall time, or mixed."""
    budgets = [r.budget for r in runs]
    if any(b is None for b in budgets):
        return "Budget: unknown for some runs (no config.yaml / run_config.yaml in their folders)."
    times = {json.dumps(b.get("max_time"), sort_keys=True) for b in budgets}
    epochs = {b.get("max_epochs") for b in budgets}
    if len(times) == 1 and budgets[0].get("max_time") is not None:
        cap = f" (and at most {epochs.pop()} epochs)" if len(epochs) == 1 and None not in epochs else ""
        return f"Budget: equal wall time, `trainer.max_time` = {budgets[0]['max_time']} per run{cap}."
    if times == {"null"} and len(epochs) == 1:
        return f"Budget: equal epochs, `trainer.max_epochs` = {epochs.pop()} per run (no wall-time limit)."
    kinds = sorted({f"max_epochs={b.get('max_epochs')}, max_time={b.get('max_time')}" for b in budgets})
    return "Budget: **differs between runs** — " + "; ".join(kinds) + "."


def structure_rows(cells: dict) -> list[dict]:
    rows = []
    for (dataset, network, variant, placement), cell in cells.items():
        for s in cell.structures:
            v = list(cell.structure_dice(s).values())
            mean, std = mean_std(v)
            outcomes = cell.voxel_outcomes(s)
            rows.append({"dataset": dataset, "network": network, "column": cell.column, "structure": s,
                         "subjects": int(np.isfinite(v).sum()), "mean_dice": mean, "std_dice": std,
                         "absent_but_predicted": outcomes[0] if outcomes else None,
                         "missed": outcomes[1] if outcomes else None})
    return rows


def _fmt(x: float | None, d: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.{d}f}" if sign else f"{x:.{d}f}"


def _fmt_p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else "<0.001" if p < 0.001 else f"{p:.3f}"


def _order(known: tuple[str, ...], name: str) -> tuple[int, str]:
    return (known.index(name) if name in known else len(known), name)


def _column_order(column: str) -> tuple:
    """none, se, cse, sse, scse (variants like scse-max after scse), placements after the default "all"."""
    variant, _, placement = column.partition("@")
    base, _, options = variant.partition("-")
    return (*_order(VARIANT_ORDER, base), options, placement != "", placement)


def _pivot(rows: list[dict], row_key: str, cell_text) -> tuple[list[str], list[str], list[list[str]]]:
    """Rows × columns text grid from long rows (columns in first-seen order, 'none' first)."""
    row_names = list(dict.fromkeys(r[row_key] for r in rows))
    if row_key == "network":
        row_names.sort(key=lambda n: (*_order(NETWORK_ORDER, n.split(" (")[0]), n))  # a control after its network
    cols = sorted(dict.fromkeys(r["column"] for r in rows), key=_column_order)
    lookup = {(r[row_key], r["column"]): r for r in rows}
    grid = [[cell_text(lookup[(rn, c)]) if (rn, c) in lookup else "–" for c in cols] for rn in row_names]
    return row_names, cols, grid


def _markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body]) + "\n"


def _latex(header: list[str], body: list[list[str]], caption: str) -> str:
    esc = lambda s: s.replace("**", "").replace("†", r"$^\dagger$").replace("×", r"$\times$").replace("±", r"$\pm$").replace("_", r"\_").replace("<", r"$<$").replace("%", r"\%")  # noqa: E731
    lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{esc(caption)}}}",
             r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}", r"\toprule",
             " & ".join(map(esc, header)) + r" \\", r"\midrule"]
    lines += [" & ".join(map(esc, r)) + r" \\" for r in body]
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}", r"\end{table}"]) + "\n"


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _dice_cell(d: int):
    def text(r: dict) -> str:
        mark = f" †{r['not_converged']}/{r['runs']}" if r["not_converged"] else ""
        return f"{_fmt(r['mean_dice'], d)} [{_fmt(r['ci_low'], d)}, {_fmt(r['ci_high'], d)}]{mark}"
    return text


def _structure_cell(d: int):
    def text(r: dict) -> str:
        if r["subjects"] == 0:
            return "absent (n=0)"
        notes = [f"{r[k]} {label}" for k, label in (("absent_but_predicted", "absent but predicted"), ("missed", "missed"))
                 if r.get(k)]
        return f"{_fmt(r['mean_dice'], d)} ± {_fmt(r['std_dice'], d)} (n={r['subjects']}{''.join('; ' + n for n in notes)})"
    return text


def _minutes(seconds: float | None) -> str:
    return f"{seconds / 60:.0f}" if isinstance(seconds, (int, float)) and math.isfinite(seconds) else "?"


def _training_cell(r: dict) -> str:
    known, bad = r["convergence_known"], r["not_converged"]
    status = "convergence unknown (no CSV logs)" if known == 0 else \
        f"converged {known - bad}/{r['runs']}" + (f" (**{bad} not**)" if bad else "")
    return f"{r['stop_reasons']}; {status}; epochs {r['epochs']}; fit min {r['fit_minutes']}"


def _tables(rows: list[dict], srows: list[dict], d: int, baseline: str = "none") -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, body) for every table, per dataset."""
    tables = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        rs = [r for r in rows if r["dataset"] == dataset]
        for caption, text in [
            ("Dice: mean over subjects of the seed-averaged scores [95 % CI, bootstrap over subjects × seeds]; "
             "†k/n: k of the cell's n runs not converged", _dice_cell(d)),
            (f"ΔDice vs {baseline} of the same network (a row like `unet (features=8)`: vs `unet`'s {baseline}) "
             "[95 % CI] (Wilcoxon signed-rank p on seed-averaged subjects; MDE: the smallest |Δ| the comparison "
             f"detects with {MDE_POWER:.0%} power at α = {MDE_ALPHA}, from the paired subject spread and the seed "
             "stds; 'within seed noise': |Δ| ≤ the larger seed std of the two cells)",
             lambda r: "–" if not r["compared_to"] else
             f"{_fmt(r['delta_vs_baseline'], d, True)} [{_fmt(r['delta_ci_low'], d, True)}, "
             f"{_fmt(r['delta_ci_high'], d, True)}] (p={_fmt_p(r['wilcoxon_p'])}; MDE {_fmt(r['mde'], d)}"
             f"{'; within seed noise' if r['exceeds_seed_noise'] is False else ''})"),
            ("Seed-to-seed std of the mean Dice (number of seeds)", lambda r: f"{_fmt(r['seed_std'], d)} (n={r['seeds']})"),
            ("Training: stop reasons; converged runs (rule: medseg.eval.convergence); validation epochs and "
             "training minutes per run", _training_cell),
            ("Parameters (attention parameters)",
             lambda r: f"{r['params']:,} ({r['attention_params'] or 0:,})" if r["params"] is not None else "n/a"),
        ]:
            names, cols, grid = _pivot(rs, "network", text)
            tables.append((f"{dataset}: {caption}", ["network", *cols], [[n, *g] for n, g in zip(names, grid)]))
        for network in sorted(dict.fromkeys(r["network"] for r in rs), key=lambda n: _order(NETWORK_ORDER, n)):
            ss = [r for r in srows if r["dataset"] == dataset and r["network"] == network]
            names, cols, grid = _pivot(ss, "structure", _structure_cell(d))
            tables.append((f"{dataset} / {network}: Dice per structure, mean ± sample std over the test subjects "
                           "where the structure is defined (seed-averaged scores; n = those subjects; 'k absent but "
                           "predicted': k of them lack it in the reference but some seed predicted it, Dice 0; 'k missed': "
                           "some seed predicted none of it)", ["structure", *cols],
                           [[n, *g] for n, g in zip(names, grid)]))
    return tables


def _figures(cells: dict, baseline: str):
    """(file name, Figure) pairs: box plots per (dataset, network); heatmaps for placement ablations."""
    safe = lambda s: "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in s)  # noqa: E731
    by_net: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for (dataset, network, *_), cell in cells.items():
        by_net[(dataset, network)].append(cell)
    for dataset in dict.fromkeys(k[0] for k in by_net):
        curves = {network: {c.column + (" †" if any(r.converged is False for r in c.runs) else ""):
                            [r.curve for r in c.runs if not r.curve.empty]
                            for c in sorted(group, key=lambda c: _column_order(c.column))}
                  for (ds, network), group in sorted(by_net.items(), key=lambda kv: _order(NETWORK_ORDER, kv[0][1]))
                  if ds == dataset}
        if any(v for cols in curves.values() for v in cols.values()):
            title = (f"{dataset}: validation mean Dice and training loss per epoch "
                     "(band: min–max over seeds; dashed: some seeds had stopped)")
            yield f"learning_curves_{safe(dataset)}.png", plots.learning_curves(curves, title=title)
    for (dataset, network), group in by_net.items():
        structures = list(dict.fromkeys(s for c in group for s in c.structures))
        dice = {c.column: {s: list(c.structure_dice(s).values()) for s in structures}
                for c in sorted(group, key=lambda c: _column_order(c.column))}  # none, cse, sse, scse, ...
        yield f"boxplot_{safe(dataset)}_{safe(network)}.png", plots.structure_boxplot(
            dice, structures, title=f"{dataset} / {network}: Dice per structure")
        base = next((c for c in group if c.variant == baseline), None)
        for variant in dict.fromkeys(c.variant for c in group if c.variant != baseline):
            ablation = [c for c in group if c.variant == variant]
            if len(ablation) < 2:
                continue
            columns = ["mean", *structures]
            values = np.full((len(ablation), len(columns)), math.nan)
            ref = [base.subject_dice()] + [base.structure_dice(s) for s in structures] if base else None
            for i, c in enumerate(ablation):
                for j, cur in enumerate([c.subject_dice()] + [c.structure_dice(s) for s in structures]):
                    if ref is None:
                        values[i, j] = np.nanmean(list(cur.values()))
                    else:
                        _, x, y = paired(cur, ref[j])
                        values[i, j] = float(np.mean(x - y)) if len(x) else math.nan
            yield f"placement_{safe(dataset)}_{safe(network)}_{safe(variant)}.png", plots.placement_heatmap(
                values, [c.placement for c in ablation], columns, diverging=base is not None,
                title=f"{dataset} / {network} / {variant}: placement ablation")


def report(run_dirs: list[str] | str, out: str = "report", baseline: str | None = None, decimals: int = 3) -> int:
    """Write report.md, report.tex, summary.csv, per_structure.csv and PNG figures to ``out``.

    Args:
        run_dirs: run folders, or folders searched recursively for them (e.g. a sweep's root); one path
            or a list (on the command line ``"[a, b]"``).
        out: output folder.
        baseline: variant the Δ and Wilcoxon p are computed against (default ``none`` when the runs have
            it); one that is not among the runs' variants is an error listing them.
        decimals: digits for Dice values in the tables (a whole number ≥ 0).
    """
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:  # issue 25 defect 24
        raise ValueError(f"report: --decimals must be a whole number >= 0, got {decimals!r}")
    paths = [run_dirs] if isinstance(run_dirs, str) else run_dirs
    finished, unfinished = scan_runs(paths)
    runs = [load_run(p) for p in _finished(paths, finished, unfinished)]
    left_out = unfinished_note(unfinished)
    if left_out:
        print(f"report: {left_out}", file=sys.stderr)
    cells = group_cells(runs)
    variants = sorted({k[2] for k in cells}, key=lambda v: _order(VARIANT_ORDER, v))
    if baseline is None:
        baseline = "none"
    elif baseline not in variants:
        raise ValueError(f"report: --baseline {baseline!r} is not a variant of these runs; choose one of "
                         f"{', '.join(variants)}")
    rows, srows = summary_rows(cells, baseline), structure_rows(cells)
    out_dir = Path(out)
    tables = _tables(rows, srows, decimals, baseline)
    seeds = sorted({r["seeds"] for r in rows})
    copies = sum(r.reused_from is not None for r in runs)
    reused = (f" {copies} of the runs are copies of another grid's identical runs (`medseg sweep` reuse; "
              "results/reused_from.json names each source)." if copies else "")
    md = [f"# medseg report\n\n{len(runs)} runs, {len(cells)} cells, {'/'.join(map(str, seeds))} seed(s) per cell. "
          f"{budget_statement(runs)}{reused}" + (f" **{left_out}.**" if left_out else "") + "\n\n"
          "Protocol: a structure absent from both a subject's reference and the prediction has no Dice (NaN): it is "
          "left out of that subject's mean, of the structure's mean and of every CI and test, never counted as 0 or "
          "1 (predicted but absent from the reference counts 0); n says how many subjects a figure rests on. "
          "A subject's score is its mean foreground Dice; a cell's Dice is the mean over test subjects "
          "of the seed-averaged scores, with a 95 % percentile CI from a crossed bootstrap over subjects × seeds "
          f"({BOOTSTRAP_RESAMPLES:,} resamples, fixed RNG). Δ: paired by subject against `{baseline}` of the same "
          "network, CI from the same bootstrap (subjects paired, seeds per cell), p from the two-sided Wilcoxon "
          "signed-rank test on the seed-averaged per-subject scores. Seed std: sample std of the seeds' mean Dice — "
          "a Δ smaller than it is within seed noise. MDE: the minimal detectable effect of a comparison, "
          f"(z(1 − α/2) + z(power))·SE with α = {MDE_ALPHA} and power {MDE_POWER:.0%}, SE² = (std of the paired "
          "subject differences)²/n + the two cells' seed variances each over its number of seeds: a null result "
          "rules out effects of about this size, not smaller ones. "
          f"Not converged (†): the best validation mean Dice in the last {LAST_FRACTION:.0%} of a run's validation "
          f"epochs exceeds the best before them by more than {RISE_TOLERANCE} (still rising).\n"]
    md += [f"\n## {cap}\n\n" + _markdown(h, b) for cap, h, b in tables]
    figures = list(_figures(cells, baseline))
    md.append("\n## Figures\n\n" + "".join(f"![{name}]({name})\n" for name, _ in figures))
    earlier = [out_dir / n for n in REPORT_FILES] + [p for g in FIGURE_GLOBS for p in sorted(out_dir.glob(g))]
    move_to_backup(earlier, out_dir / "previous", f"report {out_dir}")  # issue 25 defect 14: never overwrite
    atomic_write(out_dir / "report.md", "".join(md))
    atomic_write(out_dir / "report.tex", "% requires \\usepackage{booktabs}\n" + "\n".join(_latex(h, b, c) for c, h, b in tables))
    atomic_write(out_dir / "summary.csv", _csv(rows))
    atomic_write(out_dir / "per_structure.csv", _csv(srows))
    for name, fig in figures:
        save_figure(fig, out_dir / name)
        plots.plt.close(fig)
    print(f"report: {len(runs)} runs → {out_dir}/report.md ({len(figures)} figures)")
    return 0
