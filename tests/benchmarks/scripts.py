"""Load a benchmark script (``benchmarks/<path>``) as a module, without running its ``main``."""

import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(relative: str, name: str | None = None):
    """``benchmarks/<relative>`` imported under ``name`` (default: its stem + ``_under_test``)."""
    path = BENCHMARKS / relative
    spec = importlib.util.spec_from_file_location(name or f"{Path(relative).stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
