"""A malformed grid or base config is one clear error naming the file (issue 25 defect 22)."""

import pytest

from medseg.sweep import load_grid, sweep
from medseg.yaml_file import YAMLFileError


def _files(tmp_path, grid: str, base: str = "trainer: {max_epochs: 1}\n"):
    (tmp_path / "base.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "grid.yaml").write_text(f"base: base.yaml\nroot: {tmp_path / 'runs'}\n{grid}", encoding="utf-8")
    return tmp_path / "grid.yaml"


def test_issue25_defect22_grid_syntax_error_names_grid_and_line(tmp_path):
    path = _files(tmp_path, "grid:\n  model.network.attention: [none, scse\nseeds: [0]\n")
    with pytest.raises(YAMLFileError, match=f"grid file {path} line 5, column 6: YAML syntax error.*began at line 4, column 28"):
        sweep(str(path), dry_run=True)
    assert not (tmp_path / "runs").exists()


def test_issue25_defect22_base_syntax_error_names_the_base_config(tmp_path):
    path = _files(tmp_path, "grid: {model.network.attention: [none]}\n", base="model:\n  network: {name: unet\n")
    with pytest.raises(YAMLFileError, match=f"base config {tmp_path / 'base.yaml'} line 3, column 1"):
        load_grid(path)


@pytest.mark.parametrize("key", ["grid", "set"])
def test_issue25_defect22_grid_written_as_a_list_is_a_clear_error(tmp_path, key):
    path = _files(tmp_path, f"{key}:\n  - model.network.attention: [none, scse]\n")
    with pytest.raises(ValueError, match=f"{key!r} must be a mapping of dotted config keys.*not a list.*'- '"):
        sweep(str(path), dry_run=True)


def test_issue25_defect22_whole_grid_file_as_a_list(tmp_path):
    (tmp_path / "grid.yaml").write_text("- base: base.yaml\n- root: runs\n", encoding="utf-8")
    with pytest.raises(YAMLFileError, match="grid file .* must be a mapping.*holds a list"):
        load_grid(tmp_path / "grid.yaml")
