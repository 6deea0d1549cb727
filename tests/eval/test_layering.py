"""medseg.eval sits below the engine (engine → eval, never back): no module of it imports a higher layer."""

import ast
from pathlib import Path

import medseg.eval

EVAL = Path(medseg.eval.__file__).parent
HIGHER = ("medseg.engine", "medseg.cli", "medseg.demo", "medseg.sweep")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of every import in ``path``, function-local and relative ones included."""
    package = "medseg.eval".split(".")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)  # `from medseg import engine`
    return names


def test_eval_imports_nothing_from_the_engine_or_above():
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(EVAL.glob("*.py"))
        for name in imported_modules(path)
        if any(name == h or name.startswith(h + ".") for h in HIGHER)
    }
    assert not offenders, f"medseg.eval imports a higher layer: {sorted(offenders)}"


def test_the_check_sees_function_local_and_relative_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from medseg.engine.module import X\nfrom ..engine import losses\nfrom medseg import cli\n")
    found = imported_modules(probe)
    assert {"medseg.engine.module", "medseg.engine.losses", "medseg.cli"} <= found
