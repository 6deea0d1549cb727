"""YAML files name themselves and the line of a syntax error (issue 25 defect 22)."""

import pytest

from medseg.engine.cli import run_lightning_cli
from medseg.yaml_file import YAMLFileError, read_yaml


def test_issue25_defect22_syntax_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("trainer:\n  max_epochs: 1\n  devices: [1, 2\nmodel: {}\n", encoding="utf-8")
    with pytest.raises(YAMLFileError) as error:
        read_yaml(path, "config")
    message = str(error.value)
    # the '[' opened on line 3, column 12; PyYAML stops at the ":" of line 4 (column 6), which breaks the flow sequence
    assert f"config {path} line 4, column 6" in message and "line 3, column 12" in message
    assert "<unicode string>" not in message


def test_issue25_defect22_top_level_list_and_empty_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("- a: 1\n", encoding="utf-8")
    with pytest.raises(YAMLFileError, match="must be a mapping.*holds a list"):
        read_yaml(path)
    assert read_yaml(path, mapping=False) == [{"a": 1}]
    path.write_text("", encoding="utf-8")
    assert read_yaml(path) == {}


def test_issue25_defect22_lightning_config_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("trainer:\n  max_epochs: 1\n  bad: {a: 1\n", encoding="utf-8")
    with pytest.raises(YAMLFileError, match=f"--config {path} line 4, column 1: YAML syntax error"):
        run_lightning_cli(["fit", "--config", str(path)])
    with pytest.raises(YAMLFileError, match=f"--config {path} line 4"):
        run_lightning_cli(["fit", f"--config={path}"])
