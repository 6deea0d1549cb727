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
