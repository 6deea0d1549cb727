"""A hand-edited run_config.yaml of a pending run is not silently reverted (issue 25 defect 16)."""

import pytest
import yaml

from medseg.sweep import expand, load_grid, sweep
from tests.sweeps.test_sweep import calls, write_grid


def test_issue25_defect16_edited_run_config_of_a_pending_run_is_refused_not_reverted(tmp_path, sweep_data):
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    assert sweep(str(path), print_commands=True) == 0  # writes the run configs, runs nothing
    edited = yaml.safe_load(runs[1].config_path.read_text(encoding="utf-8"))
    edited["trainer"]["max_epochs"] = 7
    runs[1].config_path.write_text(yaml.safe_dump(edited, sort_keys=False), encoding="utf-8")
    text = runs[1].config_path.read_text(encoding="utf-8")
    with pytest.raises(ValueError) as error:
        sweep(str(path))
    message = str(error.value)
    assert str(runs[1].config_path) in message and "trainer.max_epochs: 7 -> 2" in message
    assert str(runs[0].config_path) not in message and str(runs[2].config_path) not in message
    assert runs[1].config_path.read_text(encoding="utf-8") == text  # kept as the user left it
    assert all(calls(r.dir) == [] for r in runs)  # nothing ran
    runs[1].config_path.unlink()  # the way out the message names
    assert sweep(str(path)) == 0 and [r.status for r in runs] == ["done"] * 3
    assert yaml.safe_load(runs[1].config_path.read_text(encoding="utf-8")) == runs[1].config


def test_issue25_defect16_a_respelled_attention_spec_is_the_same_config(tmp_path, sweep_data):
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    assert sweep(str(path), print_commands=True) == 0
    same = yaml.safe_load(runs[2].config_path.read_text(encoding="utf-8"))
    same["model"]["network"]["attention"] = {"name": "scse", "aggregation": "add"}  # the default spelled out
    runs[2].config_path.write_text(yaml.safe_dump(same), encoding="utf-8")
    assert sweep(str(path), print_commands=True) == 0
