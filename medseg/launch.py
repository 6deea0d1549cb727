"""How ``medseg sweep`` launches one run: one process, or one DDP run over GPUs × nodes.

``python``: one process per run (one GPU, or CPU). ``torchrun``: ``nproc_per_node`` processes per node,
Lightning reads torchrun's environment (``TorchElasticEnvironment``); on one node ``--standalone`` picks a
free port, on several nodes a c10d rendezvous at ``$MASTER_ADDR:29500``. ``srun``: SLURM starts one task
per GPU (``--ntasks-per-node`` = GPUs per node) and Lightning's ``SLURMEnvironment`` reads ranks and the
master address from SLURM. Every DDP launcher adds ``--trainer.strategy ddp --trainer.devices N
--trainer.num_nodes M`` to the run's command line (not its config, so the run folder and hash stay the same).

A run's process never outlives the sweep (issue 25 defect 17): :func:`stop_on_signals` turns SIGTERM and
SIGHUP into :class:`Terminated`, and :func:`run_process` then stops the child (SIGTERM, SIGKILL after
:data:`STOP_GRACE_S`) before the sweep releases the run folder's lock; on Linux the child is also sent
SIGTERM by the kernel when the sweep dies without cleaning up (``kill -9``; ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shlex
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Iterator, Optional

LAUNCHERS = ("python", "torchrun", "srun")
RDZV_PORT = 29500
# #SBATCH keys the DDP script sets itself from --nodes/--nproc_per_node (a grid's gres: gpu:1 is for arrays)
DDP_SLURM_KEYS = ("nodes", "ntasks", "ntasks-per-node", "gpus", "gpus-per-node", "gres")
STOP_GRACE_S = 30.0  # a stopped run's child gets this long after SIGTERM to save and exit, then SIGKILL
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """The sweep received a stop signal (a BaseException, so no ``except Exception`` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (in the main thread; elsewhere no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _libc_prctl():
    path = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    return ctypes.CDLL(path, use_errno=True).prctl if path else None


def _die_with_parent(prctl, parent: int):
    """preexec_fn: SIGTERM this child when its parent dies (Linux); if it already has, now."""
    def setup() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)
    return setup


def stop_process(child: subprocess.Popen, grace: float = STOP_GRACE_S) -> int:
    """SIGTERM ``child`` (a fit saves and records why it stopped), SIGKILL after ``grace`` seconds; its exit code."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            return child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            child.kill()
    return child.wait()


def run_process(cmd: list[str], stdout: IO, env: dict[str, str], grace: float = STOP_GRACE_S) -> int:
    """Run ``cmd`` to its end (stderr into ``stdout``) and return its exit code; if this process is
    interrupted meanwhile (:class:`Terminated`, Ctrl-C, any error), the child is stopped first
    (:func:`stop_process`) and the interruption goes on."""
    child = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, env=env,
                             preexec_fn=_die_with_parent(_libc_prctl(), os.getpid()))
    try:
        return child.wait()
    except BaseException:
        stop_process(child, grace)
        raise


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
