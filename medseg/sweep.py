"""``medseg sweep GRID.yaml``: expand an experiment grid into run folders and run them (fit, then test).

A grid file (paths relative to it)::

    base: ../base/synthetic_malc.yaml      # a LightningCLI config (model/data/trainer)
    root: runs/scse_miccai2018/synthetic   # run folders go under root (relative to the working dir)
    grid:                                  # product over dotted config keys
      model.network.attention: [none, cse, sse, scse]
      model.network.placement:             # a value list, or a placement generator:
        {generate: one_at_a_time, sites: [enc1, enc2, bottleneck, dec2, dec1], with_all: true}
      network:                             # a linked axis (no dot, mapping values): keys set together
        - {model.network.name: unet, model.network.options: {features: 16}}
        - {model.network.name: fcdensenet, model.network.options: {preset: fcdensenet56}}
    seeds: [0, 1]                          # -> seed_everything (optional)
    folds: {key: data.fold, values: [0, 1, 2]}   # optional
    set: {trainer.max_epochs: 3}           # fixed overrides for every run
    include: [{model.network.attention: none}]   # extra cells (with set/seeds/folds), not crossed with grid
    exclude: [{model.network.name: unet, model.network.attention: sse}]   # drop matching product cells
    checkpoint: last.ckpt                  # tested checkpoint, in D/checkpoints/
    command: [medseg]                      # the program taking fit/test (default: this Python's medseg)
    slurm: {time: "04:00:00", gres: "gpu:1"}   # #SBATCH options for --slurm
    reuse: [runs/other_grid]               # finished runs with the same config there are copied, not re-run
    prepare: medseg synth --kind brain --out data/brain   # what makes the dataset (shown when it is missing)

``--launcher torchrun|srun --nproc_per_node N --nodes M`` makes every run one DDP run over M nodes × N
GPUs (:mod:`medseg.launch`); with ``--slurm`` each array task gets that allocation (``--nodes=M``,
``--gpus-per-node=N``, ``--ntasks-per-node=N`` for srun, 1 torchrun per node for torchrun).

Placement generators over a site list: ``one_at_a_time`` ([s] per site), ``leave_one_out`` (all sites
but s), ``cumulative`` (first k sites, k = 1..n); ``with_all: true`` adds "all".

Before it starts any run, a sweep checks each run's base config and dataset once (:mod:`medseg.preflight`:
the manifest exists, parses, and its files exist) and stops with one message saying what to run first
(the grid's ``prepare:`` command) when they are not usable. An ``exclude:`` rule that matches no cell, or
an ``--only`` glob that matches no run, is an error (a typo would otherwise run everything or nothing).

Each run gets ``root/<readable name>-<hash of its merged config>/`` holding ``run_config.yaml`` (the
merged config, ``trainer.default_root_dir`` = that folder). A run is complete when
``results/summary.json`` parses as a test summary (:func:`medseg.eval.results.read_summary`; a truncated
one does not count); its fit is done when ``results/training.json`` says the fit ran to its budget
(:func:`medseg.engine.stop_reason.budget_met`: a fit stopped by SIGTERM, Ctrl-C or an error is not,
whatever its exit code); an unfinished fit resumes from ``checkpoints/last.ckpt``; so re-running a sweep
after a crash finishes only the missing runs. The sweep holds each run folder's lock
(:mod:`medseg.run_folder`) while it runs it and skips, saying so, a run that another process holds, so
two sweeps on the same grid share the work instead of running a cell twice.

The hash is of :func:`canonical_config` (attention specs in their shortest form), so a run's identity
does not depend on how the grid spells it. With ``reuse``, a run not yet started whose identical config
(same hash, equal canonical config, tested on the same checkpoint) finished under one of those roots is
copied from there (results,
logs, configs, checkpoints) with ``results/reused_from.json`` naming the source: two grids that share
cells (the aggregation ablation's none and add cells are the scSE table's QuickNAT cells) train them once.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import functools
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from medseg.atomic import atomic_write
from medseg.engine.stop_reason import budget_met
from medseg.eval.results import has_results
from medseg.preflight import preflight
from medseg.launch import Launch, Terminated, run_process, stop_on_signals
from medseg.run_identity import canonical_config
from medseg.run_folder import LOCK_ENV, LOCK_NAME, RunFolderLocked, RunLock
from medseg.yaml_file import read_yaml

GRID_KEYS = {"base", "root", "grid", "seeds", "folds", "set", "include", "exclude", "checkpoint", "command", "slurm",
             "reuse", "prepare"}
GENERATORS = ("one_at_a_time", "leave_one_out", "cumulative")
CONFIG_NAME = "run_config.yaml"
REUSED_FROM = "reused_from.json"


@dataclass
class Run:
    name: str
    dir: Path
    config: dict

    @property
    def config_path(self) -> Path:
        return self.dir / CONFIG_NAME

    @property
    def done(self) -> bool:
        return has_results(self.dir)

    @property
    def last_ckpt(self) -> Path:
        return self.dir / "checkpoints" / "last.ckpt"

    @property
    def status(self) -> str:
        if self.done:
            return "done"
        if budget_met(self.dir)[0]:
            return "fitted"
        return "partial" if self.last_ckpt.is_file() else "todo"


def placements(generate: str, sites: list[str], with_all: bool = False) -> list[tuple[str, Any]]:
    """(label, placement) pairs of a generator: one_at_a_time, leave_one_out or cumulative over ``sites``."""
    if generate not in GENERATORS:
        raise ValueError(f"sweep: unknown placement generator {generate!r}; expected one of {', '.join(GENERATORS)}")
    if not sites or len(set(sites)) != len(sites):
        raise ValueError(f"sweep: placement generator needs a non-empty list of distinct sites, got {sites!r}")
    if generate == "one_at_a_time":
        out = [(s, [s]) for s in sites]
    elif generate == "leave_one_out":
        out = [(f"all-but-{s}", [t for t in sites if t != s]) for s in sites]
    else:
        out = [(f"upto-{s}", sites[: i + 1]) for i, s in enumerate(sites)]
    return out + [("all", "all")] if with_all else out


def _label(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return "-".join(_label(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return "+".join(_label(v) for v in value)
    return str(value)


def _linked(key: str, values: Any) -> bool:
    """A grid key without a dot whose values are mappings of dotted keys sets those keys together."""
    return "." not in key and isinstance(values, list) and all(isinstance(v, dict) for v in values)


def _axis(key: str, values: Any) -> list[tuple[str, Any]]:
    """Grid values → (label, value); a dict with ``generate`` is a placement generator; a linked
    axis's label is its first key's value (e.g. the network name)."""
    if _linked(key, values):
        return [(_label(next(iter(v.values()), None)), v) for v in values]
    if isinstance(values, dict) and "generate" in values:
        extra = set(values) - {"generate", "sites", "with_all"}
        if extra:
            raise ValueError(f"sweep: grid key {key!r}: unknown generator option(s) {sorted(extra)}")
        return placements(values["generate"], list(values.get("sites") or []), bool(values.get("with_all", False)))
    if not isinstance(values, list) or not values:
        raise ValueError(f"sweep: grid key {key!r} needs a non-empty list of values or a generator, got {values!r}")
    return [(_label(v), v) for v in values]


def set_dotted(config: dict, key: str, value: Any) -> None:
    """``set_dotted(c, "model.network.name", "unet")`` sets ``c["model"]["network"]["name"]``."""
    node = config
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"sweep: cannot set {key!r}: {'.'.join(parts[: i + 1])!r} is {child!r}, not a mapping")
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def config_hash(config: dict) -> str:
    """8 hex digits of the SHA-1 of :func:`canonical_config` (as canonical JSON)."""
    return hashlib.sha1(json.dumps(canonical_config(config), sort_keys=True, default=str).encode()).hexdigest()[:8]


def load_grid(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep: grid file {path} not found")
    grid = read_yaml(path, "sweep: grid file")
    unknown = set(grid) - GRID_KEYS
    if unknown:
        raise ValueError(f"sweep: {path}: unknown key(s) {sorted(unknown)}; expected some of {sorted(GRID_KEYS)}")
    for key in ("base", "root"):
        if key not in grid:
            raise ValueError(f"sweep: {path}: missing required key {key!r}")
    base = (path.parent / grid["base"]).resolve()
    if not base.is_file():
        raise FileNotFoundError(f"sweep: {path}: base config {base} not found")
    for key in ("grid", "set"):  # issue 25 defect 22: a list here would fail later as "unhashable type"
        if grid.get(key) is not None and not isinstance(grid[key], dict):
            raise ValueError(f"sweep: {path}: {key!r} must be a mapping of dotted config keys to values "
                             f"(e.g. `{key}: {{model.network.attention: [none, scse]}}`), not a {type(grid[key]).__name__}"
                             + (" (drop the '- ' before each key)" if isinstance(grid[key], list) else ""))
    grid["base_config"] = read_yaml(base, f"sweep: {path}: base config")
    if not isinstance(grid["base_config"], dict):
        raise ValueError(f"sweep: {path}: base config {base} must be a mapping of sections (model:, data:, trainer:), "
                         f"got {type(grid['base_config']).__name__}")
    if grid.get("prepare") is not None and not isinstance(grid["prepare"], str):
        raise ValueError(f"sweep: {path}: prepare must be a shell command (text), got {grid['prepare']!r}")
    return grid


def _same_value(key: str, a: Any, b: Any) -> bool:
    """Two values of grid key ``key`` that make the same run (attention specs in their shortest form)."""
    if "." not in key:
        return a == b
    first, second = {}, {}
    set_dotted(first, key, a)
    set_dotted(second, key, b)
    return canonical_config(first) == canonical_config(second)


def _excluded(cell: dict, rule: Any) -> bool:
    """Whether an ``exclude:`` rule ``{key: value, ...}`` matches a product cell (issue 25 defect 8: a rule
    spelled ``{name: scse, aggregation: add}`` matches the cell ``scse``)."""
    if not isinstance(rule, dict) or not rule:
        raise ValueError(f"sweep: an exclude rule must be a non-empty mapping {{grid key: value}}, got {rule!r}")
    return all(k in cell and _same_value(k, cell[k][1], v) for k, v in rule.items())


def expand(grid: dict, root: str | Path | None = None) -> list[Run]:
    """All runs of a loaded grid, in order: product cells, then include cells; × folds × seeds."""
    axes = {k: _axis(k, v) for k, v in (grid.get("grid") or {}).items()}
    linked = {k for k, v in (grid.get("grid") or {}).items() if _linked(k, v)}
    cells = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    for rule in grid.get("exclude") or []:
        kept = [c for c in cells if not _excluded(c, rule)]
        if len(kept) == len(cells):
            raise ValueError(f"sweep: exclude rule {rule!r} matches no cell of the grid (its keys must be grid keys, "
                             f"{sorted(axes)}, and its values among theirs); fix or remove it")
        cells = kept
    cells += [{k: (_label(v), v) for k, v in extra.items()} for extra in grid.get("include") or []]
    repeats: list[dict] = [{}]
    if grid.get("folds"):
        folds = grid["folds"]
        if not isinstance(folds, dict) or not isinstance(folds.get("values"), list):
            raise ValueError(f"sweep: folds must be {{key: data.fold, values: [0, 1, ...]}}, got {folds!r}")
        repeats = [{folds.get("key", "data.fold"): (f"fold{f}", f)} for f in folds["values"]]
    if grid.get("seeds"):
        repeats = [{**r, "seed_everything": (f"seed{s}", s)} for r in repeats for s in grid["seeds"]]
    keys = list(dict.fromkeys(k for c in cells for k in c))
    varying = {k for k in keys if len({c[k][0] if k in c else None for c in cells}) > 1}
    root = Path(root or grid["root"])
    runs, seen = [], set()
    for cell, rep in itertools.product(cells, repeats):
        config = copy.deepcopy(grid["base_config"])
        for key, value in (grid.get("set") or {}).items():
            set_dotted(config, key, value)
        chosen = {**cell, **rep}
        for key, (_, value) in chosen.items():
            for k, v in (value.items() if key in linked else [(key, value)]):
                set_dotted(config, k, v)
        digest = config_hash(config)
        if digest in seen:
            continue
        seen.add(digest)
        label = "-".join(lab for k, (lab, _) in chosen.items() if k in varying or k in rep) or "run"
        name = f"{re.sub(r'[^A-Za-z0-9_.+-]+', '_', label)[:80]}-{digest}"
        set_dotted(config, "trainer.default_root_dir", str(root / name))
        runs.append(Run(name=name, dir=root / name, config=config))
    return runs


def _tested_checkpoint(run_dir: Path) -> str | None:
    """File name of the checkpoint a run was tested on (``ckpt_path`` of the test's saved config.yaml)."""
    try:
        saved = yaml.safe_load((run_dir / "config_test.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return Path(str(saved["ckpt_path"])).name if isinstance(saved, dict) and saved.get("ckpt_path") else None


def reusable(run: Run, roots: list[Path], checkpoint: str) -> Path | None:
    """A finished run folder under ``roots`` with the same hash and canonical config as ``run``, tested on
    the same checkpoint (``best.ckpt`` or ``last.ckpt``), if ``run`` has not started (its folder holds
    nothing but run_config.yaml and the lock)."""
    if run.dir.is_dir() and {p.name for p in run.dir.iterdir()} - {CONFIG_NAME, LOCK_NAME}:
        return None
    digest = run.name.rsplit("-", 1)[-1]
    for root in roots:
        for candidate in sorted(root.glob(f"*-{digest}")):
            config_path = candidate / CONFIG_NAME
            if candidate.resolve() == run.dir.resolve() or not has_results(candidate):
                continue
            try:
                other = yaml.safe_load(config_path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            if (isinstance(other, dict) and canonical_config(other) == canonical_config(run.config)
                    and _tested_checkpoint(candidate) == checkpoint):
                return candidate
    return None


def reuse_run(run: Run, source: Path) -> None:
    """Copy finished run ``source`` into ``run.dir`` (whose lock the caller holds): everything but its
    run_config.yaml and lock, plus ``results/reused_from.json``; results/ is moved in last, in one rename,
    so the run counts as done only once all of it is there."""
    staging = Path(tempfile.mkdtemp(prefix=".reuse-", dir=run.dir))
    try:
        copy_dir = staging / "copy"
        shutil.copytree(source, copy_dir, ignore=shutil.ignore_patterns(LOCK_NAME, CONFIG_NAME))
        note = {"source": str(source), "hash": run.name.rsplit("-", 1)[-1],
                "why": "identical canonical config; copied by medseg sweep instead of training again"}
        atomic_write(copy_dir / "results" / REUSED_FROM, json.dumps(note, indent=2) + "\n")
        for entry in sorted(copy_dir.iterdir(), key=lambda p: p.name == "results"):
            os.replace(entry, run.dir / entry.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _reuse_roots(spec: dict) -> list[Path]:
    roots = spec.get("reuse") or []
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise ValueError(f"sweep: reuse must be a list of run-folder roots, got {roots!r}")
    missing = [r for r in roots if not Path(r).is_dir()]
    if missing:
        print(f"sweep: reuse root(s) {', '.join(missing)} not found (relative to {Path.cwd()}); "
              "their runs will be trained here", file=sys.stderr)
    return [Path(r) for r in roots if Path(r).is_dir()]


def _commands(run: Run, checkpoint: str, extra: list[str] = ()) -> list[list[str]]:
    """medseg arguments of fit (resuming from last.ckpt when present), then test on ``checkpoints/<checkpoint>``;
    ``extra`` (the launcher's trainer options) ends each."""
    cfg = str(run.config_path)
    fit = ["fit", "--config", cfg]
    if run.status == "partial":
        fit += ["--ckpt_path", str(run.last_ckpt)]
    elif (run.dir / "config.yaml").is_file():  # a fit killed before its first checkpoint: start it again
        fit += ["--ckpt_path", "last"]
    test = ["test", "--config", cfg, "--ckpt_path", str(run.dir / "checkpoints" / checkpoint)]
    return [[*c, *extra] for c in ([test] if run.status == "fitted" else [fit, test])]


def _slurm_script(grid: dict, commands_file: Path, n: int, root: Path, launch: Launch) -> str:
    """An sbatch array, one run per task; a DDP launcher gives each task ``nodes`` × ``nproc_per_node`` GPUs."""
    lines = ["#!/bin/bash", f"#SBATCH --array=1-{n}", f"#SBATCH --job-name=medseg-{root.name}",
             f"#SBATCH --output={root}/slurm-%A_%a.out"]
    directives, dropped = launch.sbatch_lines(grid.get("slurm") or {})
    if dropped:
        print(f"sweep: --launcher {launch.launcher} sets the allocation itself; ignoring the grid's slurm "
              f"{', '.join(dropped)}", file=sys.stderr)
    lines += directives
    lines += ["set -euo pipefail", *launch.script_setup(),
              f'eval "$(sed -n "${{SLURM_ARRAY_TASK_ID}}p" {shlex.quote(str(commands_file))})"']
    return "\n".join(lines) + "\n"


def _in_process(args: list[str], log, token: str) -> int:
    """``medseg.cli.main(args)`` in this process (no interpreter start-up per stage); errors → exit code 1."""
    from medseg.cli import main

    previous = os.environ.get(LOCK_ENV)
    os.environ[LOCK_ENV] = token  # the run folder's lock is ours: let the stage work under it
    try:
        with contextlib.redirect_stdout(log):
            return main(args)
    except Exception:  # noqa: BLE001 - a failed run is reported, the sweep goes on or stops cleanly
        log.write(traceback.format_exc())
        return 1
    except SystemExit as stop:  # jsonargparse exits on bad options
        return stop.code if isinstance(stop.code, int) else 1
    finally:
        if previous is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = previous


def _run_one(run: Run, program: list[str], checkpoint: str, in_process: bool, token: str, extra: list[str] = ()) -> int:
    """fit and test of one run, whose folder lock the caller holds (``token`` lets the stages in)."""
    for args in _commands(run, checkpoint, extra):
        stage, cmd = args[0], [*program, *args]
        with (run.dir / f"{stage}.log").open("a", encoding="utf-8") as log:
            log.write(f"$ {shlex.join(cmd)}\n")
            log.flush()
            if in_process:
                code = _in_process(args, log, token)
            else:
                code = run_process(cmd, log, {**os.environ, LOCK_ENV: token})
        if code != 0:
            return code
        met, why = budget_met(run.dir) if stage == "fit" else (True, "")
        if not met:  # e.g. a fit stopped by SIGTERM under an older medseg, which exited 0
            with (run.dir / "fit.log").open("a", encoding="utf-8") as log:
                log.write(f"sweep: fit exited 0 but did not finish: {why}\n")
            return 1
    if not run.done:
        raise RuntimeError(f"sweep: run {run.name}: test finished but {run.dir}/results/summary.json is missing")
    return 0


def _dotted_differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every dotted key whose value differs between two configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in dict.fromkeys([*old, *new])
                for d in _dotted_differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [f"{prefix[:-1]}: {old!r} -> {new!r}"]


def _refuse_edited_configs(pending: list[Run]) -> None:
    """A pending run's run_config.yaml that is not the grid's config for it (edited by hand, or another
    grid's) is an error listing the differences, before anything is written (issue 25 defect 16): the
    sweep would silently put the grid's config back, and the folder's hash names the grid's config.
    Compared as :func:`canonical_config` (the run folder and attention spellings do not count)."""
    problems = []
    for r in pending:
        if not r.config_path.is_file():
            continue
        try:
            diff = _dotted_differences(canonical_config(read_yaml(r.config_path, "run config")), canonical_config(r.config))
        except ValueError as error:
            problems.append(f"{error}")
            continue
        if diff:
            problems.append(f"{r.config_path} differs from the grid's config for this run (file -> grid):\n      "
                            + "\n      ".join(diff))
    if problems:
        raise ValueError("sweep: refusing to replace run config(s) that differ from the grid:\n  "
                         + "\n  ".join(problems) + "\nput the change into the grid (it makes a new run folder), "
                         "or delete the file to let the sweep write the grid's config")


def _stoppable(function):
    """SIGTERM/SIGHUP stop ``function`` (:func:`medseg.launch.stop_on_signals`): the stage in progress is
    stopped, its run folder released, and the exit code is 128 + the signal number."""
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> int:
        try:
            with stop_on_signals():
                return function(*args, **kwargs)
        except Terminated as stop:
            print(f"sweep: stopped by {stop}; the run in progress was stopped and its folder released; "
                  "re-run the same command to resume", file=sys.stderr, flush=True)
            return 128 + stop.signum
    return run


@_stoppable
def sweep(
    grid: str,
    root: str | None = None,
    only: str | None = None,
    dry_run: bool = False,
    print_commands: bool = False,
    slurm: str | None = None,
    launcher: str = "python",
    nproc_per_node: int = 1,
    nodes: int = 1,
    keep_going: bool = False,
    in_process: bool = False,
) -> int:
    """Expand GRID.yaml into run folders and run each (fit, then test) in sequence, skipping complete runs.

    Args:
        grid: the grid YAML file.
        root: folder for the run folders (default: the grid's ``root``).
        only: run only runs whose folder name matches this glob (e.g. ``"quicknat-*"``).
        dry_run: list the runs and their status (done/partial/fitted/todo); write nothing.
        print_commands: write the run configs and print one shell command per unfinished run.
        slurm: write the run configs and a SLURM array script (one task per unfinished run) to this path.
        launcher: ``python`` (one process per run), or one DDP run over ``nodes`` × ``nproc_per_node``
            GPUs: ``torchrun`` or ``srun`` (SLURM starts one task per GPU); see :mod:`medseg.launch`.
        nproc_per_node: processes (GPUs) per node of each run with a DDP launcher.
        nodes: nodes per run with a DDP launcher (more than one: ``--slurm`` or ``--print_commands``).
        keep_going: continue with the next run after a failed one (default: stop).
        in_process: run fit/test through ``medseg.cli.main`` in this process instead of a subprocess per
            stage (saves the interpreter start-up; for small grids and notebooks; ignores ``command``).
    """
    spec = load_grid(grid)
    every = expand(spec, root)
    runs = [r for r in every if only is None or fnmatch.fnmatch(r.name, only)]
    if only is not None and not runs:
        shown = ", ".join(r.name for r in every[:3]) + (", ..." if len(every) > 3 else "")
        print(f"sweep: --only {only!r} matches none of the grid's {len(every)} runs ({shown})", file=sys.stderr)
        return 1
    launch = Launch(launcher, nproc_per_node, nodes)
    if in_process and launch.ddp:
        raise ValueError(f"sweep: in_process runs in this one process; it cannot use launcher {launcher!r}")
    extra = launch.overrides()
    checkpoint = spec.get("checkpoint", "last.ckpt")
    pending = [r for r in runs if not r.done]
    roots = _reuse_roots(spec)
    here = not (dry_run or print_commands or slurm)
    program = launch.program(spec.get("command")) if here else []
    if not dry_run:
        _refuse_edited_configs(pending)  # before the data check: a hand edit may be what points at the data
    problem = preflight([r.config for r in pending], spec.get("prepare")) if pending else None
    if problem and here:
        print(problem, file=sys.stderr)
        return 1
    if problem:  # the commands may run on another machine, where the data may be
        print(f"{problem}\n(warning only: --dry_run / --print_commands / --slurm start nothing here)", file=sys.stderr)
    if dry_run:
        for r in runs:
            source = None if r.done else reusable(r, roots, checkpoint)
            print(f"{r.status:8s} {r.dir}" + (f" (reuse {source})" if source else ""))
        print(f"sweep: {len(runs)} runs, {len(pending)} to run (dry run: nothing written)")
        return 0
    for r in pending:
        r.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(r.config_path, yaml.safe_dump(r.config, sort_keys=False))
    if print_commands or slurm:
        def lines(prefix: str) -> list[str]:
            return [" && ".join(f"{prefix} {shlex.join(c)}" for c in _commands(r, checkpoint, extra)) for r in pending]

        if slurm:
            root_dir = Path(root or spec["root"])
            commands_file = Path(slurm).with_suffix(".commands")
            atomic_write(commands_file, "\n".join(lines(launch.shown(spec.get("command"), slurm=True))) + "\n")
            atomic_write(slurm, _slurm_script(spec, commands_file.resolve(), len(pending), root_dir.resolve(), launch))
            size = f", each DDP over {nodes} node(s) x {nproc_per_node} GPU(s)" if launch.ddp else ""
            print(f"sweep: wrote {slurm} (sbatch array of {len(pending)} runs{size}; commands in {commands_file})")
        if print_commands:
            print("\n".join(lines(launch.shown(spec.get("command")))))
        return 0
    failed, skipped = [], []
    print(f"sweep: {len(runs)} runs, {len(runs) - len(pending)} already complete", flush=True)
    for r in tqdm(pending, desc="sweep", unit="run"):
        try:
            lock = RunLock(r.dir).acquire()
        except RunFolderLocked as busy:
            skipped.append(r)
            tqdm.write(f"sweep: skipped {r.name}: {busy}")
            continue
        with lock:
            if r.done:
                tqdm.write(f"sweep: {r.name} was completed by another process meanwhile")
                continue
            source = reusable(r, roots, checkpoint)
            if source is not None:
                reuse_run(r, source)
                tqdm.write(f"sweep: {r.name}: reused finished run {source} (same config)")
                continue
            tqdm.write(f"sweep: {r.name} ({r.status}) → {r.dir}")
            code = _run_one(r, program, checkpoint, in_process, lock.token, extra)
        if code != 0:
            failed.append(r)
            tqdm.write(f"sweep: run {r.name} failed with exit code {code}; see {r.dir}/fit.log and test.log")
            if not keep_going:
                break
    if failed:
        print(f"sweep: {len(failed)} run(s) failed; re-run the same command to resume", file=sys.stderr)
        return 1
    if skipped:
        print(f"sweep: {len(skipped)} run(s) skipped because another process holds them "
              f"({', '.join(r.name for r in skipped)}); re-run the same command later to finish them")
        return 0
    print(f"sweep: all {len(runs)} runs complete under {Path(root or spec['root'])}")
    return 0
