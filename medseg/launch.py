"""How ``medseg sweep`` launches one run: one process, or one DDP run over GPUs × nodes.

``python``: one process per run (one GPU, or CPU). ``torchrun``: ``nproc_per_node`` processes per node,
Lightning reads torchrun's environment (``TorchElasticEnvironment``); on one node ``--standalone`` picks a
free port, on several nodes a c10d rendezvous at ``$MASTER_ADDR:29500``. ``srun``: SLURM starts one task
per GPU (``--ntasks-per-node`` = GPUs per node) and Lightning's ``SLURMEnvironment`` reads ranks and the
master address from SLURM. Every DDP launcher adds ``--trainer.strategy ddp --trainer.devices N
--trainer.num_nodes M`` to the run's command line (not its config, so the run folder and hash stay the same).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from typing import Optional

LAUNCHERS = ("python", "torchrun", "srun")
RDZV_PORT = 29500
# #SBATCH keys the DDP script sets itself from --nodes/--nproc_per_node (a grid's gres: gpu:1 is for arrays)
DDP_SLURM_KEYS = ("nodes", "ntasks", "ntasks-per-node", "gpus", "gpus-per-node", "gres")


@dataclass(frozen=True)
class Launch:
    launcher: str = "python"
    nproc_per_node: int = 1
    nodes: int = 1

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"sweep: launcher must be one of {', '.join(LAUNCHERS)}, got {self.launcher!r}")
        if self.nproc_per_node < 1 or self.nodes < 1:
            raise ValueError(f"sweep: nproc_per_node and nodes must be >= 1, got {self.nproc_per_node} and {self.nodes}")
        if self.launcher == "python" and self.nproc_per_node * self.nodes > 1:
            raise ValueError("sweep: launcher 'python' runs one process; use --launcher torchrun or srun "
                             f"for nproc_per_node={self.nproc_per_node}, nodes={self.nodes}")

    @property
    def ddp(self) -> bool:
        return self.launcher != "python"

    def overrides(self) -> list[str]:
        """Trainer options that make Lightning's world size match the launcher's processes."""
        if not self.ddp:
            return []
        return ["--trainer.strategy", "ddp", "--trainer.devices", str(self.nproc_per_node),
                "--trainer.num_nodes", str(self.nodes)]

    def _torchrun_args(self) -> list[str]:
        if self.nodes == 1:
            return ["--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        return [f"--nnodes={self.nodes}", f"--nproc_per_node={self.nproc_per_node}", "--rdzv_backend=c10d",
                "--rdzv_id=${SLURM_JOB_ID:-medseg}", f"--rdzv_endpoint=${{MASTER_ADDR}}:{RDZV_PORT}"]

    def program(self, command: Optional[list[str]] = None) -> list[str]:
        """The argv prefix that runs ``medseg`` here (python: ``command`` or this Python's medseg)."""
        if self.launcher == "python":
            return command or [sys.executable, "-m", "medseg.cli"]
        if self.nodes > 1:
            raise ValueError("sweep: a multi-node run cannot start from here; write a script with --slurm "
                             "or print the commands with --print_commands and run them on every node")
        if self.launcher == "torchrun":
            return [sys.executable, "-m", "torch.distributed.run", *self._torchrun_args(), "-m", "medseg.cli"]
        return ["srun", *(command or [sys.executable, "-m", "medseg.cli"])]

    def shown(self, command: Optional[list[str]] = None, slurm: bool = False) -> str:
        """The same prefix as shell text for printed commands and scripts (``$MASTER_ADDR`` left to the shell)."""
        if self.launcher == "python":
            return shlex.join(command or ["medseg"])
        if self.launcher == "srun":
            return "srun " + shlex.join(command or ["medseg"])
        torchrun = " ".join(["torchrun", *self._torchrun_args(), "-m", "medseg.cli"])
        return f"srun --ntasks-per-node=1 {torchrun}" if slurm and self.nodes > 1 else torchrun

    def sbatch_lines(self, grid_options: dict) -> tuple[list[str], list[str]]:
        """(#SBATCH lines, dropped grid keys) for one run per array task on this launcher's allocation."""
        if not self.ddp:
            return [f"#SBATCH --{k}={v}" for k, v in grid_options.items()], []
        tasks = self.nproc_per_node if self.launcher == "srun" else 1
        lines = [f"#SBATCH --nodes={self.nodes}", f"#SBATCH --ntasks-per-node={tasks}",
                 f"#SBATCH --gpus-per-node={self.nproc_per_node}"]
        dropped = [k for k in grid_options if k in DDP_SLURM_KEYS]
        return lines + [f"#SBATCH --{k}={v}" for k, v in grid_options.items() if k not in DDP_SLURM_KEYS], dropped

    def script_setup(self) -> list[str]:
        """Shell lines before the run: the rendezvous host for multi-node torchrun (SLURM's first node)."""
        if self.launcher == "torchrun" and self.nodes > 1:
            return ['export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"']
        return []
