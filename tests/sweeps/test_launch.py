"""DDP launch of sweep runs: rendered SLURM scripts (srun, torchrun multi-node) run against fake SLURM tools,
and a real 2-process torchrun (gloo, CPU) fit + test on phantoms equal to the single-process test."""

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from medseg.launch import Launch
from medseg.sweep import expand, load_grid, sweep
from tests.sweeps.test_sweep import write_grid


def fake_tool(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/bash\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run_script(tmp_path: Path, script: Path, task: int) -> list[str]:
    """Run an array task of the sbatch script with fake srun/scontrol; return the argv lines srun saw."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake_tool(bin_dir, "srun", f'echo "$*" >> {tmp_path}/srun.log')
    fake_tool(bin_dir, "scontrol", 'printf "gpu-node7\\ngpu-node8\\n"')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_ARRAY_TASK_ID": str(task),
           "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu-node[7-8]"}
    subprocess.run(["bash", str(script)], check=True, env=env, timeout=30)
    return (tmp_path / "srun.log").read_text(encoding="utf-8").splitlines()


def directives(script: Path) -> list[str]:
    return [line for line in script.read_text(encoding="utf-8").splitlines() if line.startswith("#SBATCH")]


def test_srun_script_runs_one_ddp_run_per_task_over_nodes_and_gpus(tmp_path, capsys):
    path = write_grid(tmp_path, command=["medseg"], slurm={"time": "04:00:00", "gres": "gpu:1"})
    script = tmp_path / "job.sbatch"
    assert sweep(str(path), slurm=str(script), launcher="srun", nproc_per_node=4, nodes=2) == 0
    assert "ignoring the grid's slurm gres" in capsys.readouterr().err
    lines = directives(script)
    for expected in ("--array=1-3", "--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--time=04:00:00"):
        assert f"#SBATCH {expected}" in lines
    assert not any("gres" in line for line in lines)
    run = expand(load_grid(path))[1]
    ddp = "--trainer.strategy ddp --trainer.devices 4 --trainer.num_nodes 2"
    assert run_script(tmp_path, script, 2) == [
        f"medseg fit --config {run.config_path} {ddp}",
        f"medseg test --config {run.config_path} --ckpt_path {run.dir}/checkpoints/last.ckpt {ddp}",
    ]


def test_torchrun_script_starts_one_torchrun_per_node_with_a_rendezvous_on_the_first(tmp_path):
    path = write_grid(tmp_path)
    script = tmp_path / "job.sbatch"
    assert sweep(str(path), slurm=str(script), launcher="torchrun", nproc_per_node=8, nodes=3) == 0
    lines = directives(script)
    assert {"#SBATCH --nodes=3", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=8"} <= set(lines)
    run = expand(load_grid(path))[0]
    fit = run_script(tmp_path, script, 1)[0]
    assert fit == ("--ntasks-per-node=1 torchrun --nnodes=3 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_id=4242 "
                   f"--rdzv_endpoint=gpu-node7:29500 -m medseg.cli fit --config {run.config_path} "
                   "--trainer.strategy ddp --trainer.devices 8 --trainer.num_nodes 3")


def test_the_array_script_keeps_one_process_per_run(tmp_path):
    path = write_grid(tmp_path, command=["medseg"], slurm={"gres": "gpu:1"})
    assert sweep(str(path), slurm=str(tmp_path / "job.sbatch")) == 0
    assert "#SBATCH --gres=gpu:1" in directives(tmp_path / "job.sbatch")
    assert not any("nodes" in line for line in directives(tmp_path / "job.sbatch"))
    assert "--trainer" not in (tmp_path / "job.commands").read_text(encoding="utf-8")


def test_launch_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="launcher 'python' runs one process; use --launcher torchrun or srun"):
        Launch("python", nproc_per_node=2)
    with pytest.raises(ValueError, match="launcher must be one of python, torchrun, srun, got 'mpirun'"):
        Launch("mpirun")
    with pytest.raises(ValueError, match="a multi-node run cannot start from here"):
        sweep(str(write_grid(tmp_path)), launcher="torchrun", nodes=2)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.log"))


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu_fit_and_test_like_one_process(tmp_path):
    from medseg.data.synth import synth
    from medseg.engine.cli import run_lightning_cli

    synth("malc", str(tmp_path / "data"), subjects=5, size=16, validation=1, test=3)  # 3 test subjects: odd for 2 ranks
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "seed_everything": 1,
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "limit_train_batches": 2, "enable_progress_bar": False,
                    "enable_model_summary": False},
        "model": {"network": {"name": "unet", "attention": "scse", "options": {"features": 4, "depth": 2, "kernel_size": 3}}},
        "data": {"manifest": str(tmp_path / "data" / "dataset.json"), "plane": "axial", "batch_size": 4},
    }), encoding="utf-8")
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({"base": "base.yaml", "root": str(tmp_path / "runs")}), encoding="utf-8")
    assert sweep(str(tmp_path / "grid.yaml"), launcher="torchrun", nproc_per_node=2) == 0
    run = expand(load_grid(tmp_path / "grid.yaml"))[0]
    log = (run.dir / "fit.log").read_text(encoding="utf-8")
    assert "torch.distributed.run --standalone --nproc_per_node=2" in log.splitlines()[0]
    assert "MEMBER: 2/2" in log and "distributed_backend=gloo" in log
    ddp = (run.dir / "results" / "dice_per_structure.csv").read_text(encoding="utf-8")
    run_lightning_cli(["test", "--config", str(run.config_path), "--ckpt_path", "last"])
    single = (run.dir / "results" / "dice_per_structure.csv").read_text(encoding="utf-8")
    assert ddp == single and len({line.split(",")[0] for line in single.splitlines()[1:]}) == 3
