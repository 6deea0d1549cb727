"""``benchmarks/gpu_throughput.py --quick`` runs on CPU and prints one row per option set, with consistent figures."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_throughput.py"


def _rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start)) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.slow
def test_quick_run_prints_every_option_set():
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    main = _rows(result.stdout, "| network | attention |")
    expected = set(itertools.product(["quicknat:roy2019", "unet:roy2018"], ["none", "scse"], ["fp32", "bf16"],
                                     ["off", "on"], ["off"]))
    assert [tuple(r[:5]) for r in main] == sorted(expected, key=lambda k: [
        ["quicknat:roy2019", "unet:roy2018"].index(k[0]), ["none", "scse"].index(k[1]), ["fp32", "bf16"].index(k[2]),
        ["off", "on"].index(k[3])])
    steps = {}
    for r in main:
        step_ms, slices, volume_s, volumes = map(float, r[5:])
        assert step_ms > 0 and volume_s > 0
        # --quick: batch 2; columns printed to 0.1 ms / 0.1 slice / 0.001 s / 0.001 volume: allow exactly that
        assert 2000 / (step_ms + 0.05) - 0.05 <= slices <= 2000 / (step_ms - 0.05) + 0.05
        assert 1 / (volume_s + 0.0005) - 0.0005 <= volumes <= 1 / (volume_s - 0.0005) + 0.0005
        steps[tuple(r[:5])] = step_ms
    overhead = _rows(result.stdout, "| network | dtype |")
    assert len(overhead) == 8
    for net, dtype, cl, comp, pct in overhead:
        # the table prints step times to 0.1 ms: the true ratio lies within what those roundings allow
        a, b = steps[(net, "scse", dtype, cl, comp)], steps[(net, "none", dtype, cl, comp)]
        low, high = 100 * ((a - 0.05) / (b + 0.05) - 1), 100 * ((a + 0.05) / (b - 0.05) - 1)
        assert low - 0.05 <= float(pct.rstrip(" %")) <= high + 0.05
