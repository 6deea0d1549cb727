"""Run every benchmark with the settings recorded in benchmarks/RESULTS.md (``make bench``).

Each script prints its own markdown table; paste the new figures into RESULTS.md with the command.
``--quick`` runs small settings to check that the scripts still work. ``gpu_throughput.py`` at full size
runs only where a CUDA GPU is visible (or with ``--gpu``); on CPU it would take hours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = [
    ["attention_cost.py", "--threads", "2"],
    ["train_step.py", "--repeats", "5", "--warmup", "1", "--threads", "2"],
    ["data_throughput.py", "--workers", "0", "--volumes", "2", "--size", "128"],
    ["data_throughput.py", "--workers", "2", "--epochs", "5"],
    ["dice_speed.py", "--size", "256", "--classes", "28"],
    ["fit_throughput.py", "--size", "128", "--steps", "40"],
    ["inference_memory.py", "--size", "256", "--classes", "28"],
]
GPU = [["gpu_throughput.py"]]
QUICK = [
    ["attention_cost.py", "--size2d", "32", "--size3d", "8", "--repeats", "1", "--blocks", "cse", "sse", "scse"],
    ["dice_speed.py", "--size", "48", "--repeats", "1"],
    ["gpu_throughput.py", "--quick"],
]


def main() -> int:
    failed = []
    if "--quick" in sys.argv[1:]:
        scripts = QUICK
    else:
        import torch

        scripts = FULL + (GPU if torch.cuda.is_available() or "--gpu" in sys.argv[1:] else [])
    for args in scripts:
        command = [sys.executable, str(HERE / args[0]), *args[1:]]
        print(f"\n$ {' '.join(['python', 'benchmarks/' + args[0], *args[1:]])}", flush=True)
        if subprocess.call(command) != 0:
            failed.append(args[0])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
