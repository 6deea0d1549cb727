"""The ``medseg`` dispatcher: every advertised subcommand resolves, unknown ones fail clearly."""

import importlib

import pytest

from medseg import cli


def test_unknown_subcommand_exits_2_and_lists_choices(capsys):
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "frobnicate" in err and "fit" in err and "synth" in err


def test_no_arguments_prints_usage_and_fails(capsys):
    assert cli.main([]) == 2
    assert "usage: medseg" in capsys.readouterr().out


@pytest.mark.parametrize(
    "target",
    [t for v in cli.TOOLS.values() for t in (v.values() if isinstance(v, dict) else [v])],
)
def test_every_tool_target_is_importable(target):
    module, _, name = target.partition(":")
    assert callable(getattr(importlib.import_module(module), name))


def test_list_positional_takes_several_words(tmp_path, monkeypatch):
    """``medseg report a b --out X`` hands both folders to ``report(run_dirs: list[str], ...)``."""
    import medseg.eval.report as report_module

    seen = {}

    def fake_report(run_dirs: list[str] | str, out: str = "report") -> int:
        seen.update(run_dirs=run_dirs, out=out)
        return 0

    monkeypatch.setattr(report_module, "report", fake_report)
    assert cli.main(["report", "runs/a", "runs/b", "--out", str(tmp_path)]) == 0
    assert seen == {"run_dirs": ["runs/a", "runs/b"], "out": str(tmp_path)}
    assert cli.main(["report", "runs/a", "--out", str(tmp_path)]) == 0
    assert seen["run_dirs"] == "runs/a"
