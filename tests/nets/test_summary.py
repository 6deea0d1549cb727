import pytest
import yaml

from medseg import cli
from medseg.nets.summary import read_network_spec, summary

from .conftest import quicknat_params, scse_params


def write_config(path, network):
    path.write_text(yaml.safe_dump({"model": {"network": network}, "trainer": {"max_epochs": 1}}), encoding="utf-8")
    return str(path)


def test_summary_from_config_reports_sites_and_overhead(tmp_path, capsys):
    config = write_config(
        tmp_path / "exp.yaml",
        {"name": "quicknat", "attention": {"name": "scse", "reduction": 2}, "placement": "encoder",
         "options": {"features": 8, "kernel_size": 3, "depth": 2}},
    )
    table = summary(config=config, num_classes=5)
    printed = capsys.readouterr().out
    assert table in printed
    added, base = 2 * scse_params(8), quicknat_params(1, 5, 8, 3, 2)
    rows = {line.split()[0]: line.split()[-1] for line in table.split("\n\n")[0].splitlines()[2:]}
    assert rows["enc1"] == rows["enc2"] == f"{scse_params(8):,}" and rows["dec1"] == rows["bottleneck"] == "0"
    assert f"{base:,}" in table and f"{100 * added / base:.2f} %" in table


def test_summary_cli_with_a_spec(capsys):
    assert cli.main(["summary", "--network", "sdnet", "--attention", "cse", "--placement", "[bottleneck, dec1]",
                     "--options", '{"features": 4, "depth": 2}', "--num_classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "bottleneck" in out and "CSE" in out and "attention overhead" in out


def test_bad_config_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"model": {"net": {"name": "unet"}}}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.yaml.*'model.network'"):
        read_network_spec(path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        read_network_spec(tmp_path / "missing.yaml")


def test_summary_lists_new_blocks_and_skip_gates():
    from medseg.nets.summary import count_parameters
    from medseg.nets import build_network

    options = {"features": 8, "kernel_size": 3, "depth": 2, "skip_gate": "gau"}
    table = summary(network="unet", attention=None,
                    placement={"bottleneck": "fpa", "dec2": "psanet", "dec1": "encnet"}, num_classes=3, options=options)
    rows = {line.split()[0]: line.split()[1:] for line in table.split("\n\n")[0].splitlines()[2:]}
    net = build_network("unet", 1, 3, placement={"bottleneck": "fpa", "dec2": "psanet", "dec1": "encnet"}, **options)
    assert rows["bottleneck"][0] == "FPA" and rows["dec2"][0] == "PSANet" and rows["dec1"][0] == "EncNet"
    assert rows["gate1"] == ["GAU", f"{count_parameters(net.gates[0]):,}"] and "gate2" in rows


def test_cli_config_option_reads_the_file_issue25_defect1(tmp_path, capsys):
    """issue 25 defect 1: ``medseg summary --config X.yaml`` (the README's form) printed QuickNAT defaults,
    exit 0, whatever X held, even a missing file: jsonargparse dropped the function's own ``config``."""
    config = write_config(tmp_path / "exp.yaml", {"name": "sdnet", "attention": "cse", "placement": ["bottleneck"],
                                                  "options": {"features": 4, "depth": 2}})
    assert cli.main(["summary", "--config", config, "--num_classes", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sdnet  attention='cse'  placement=['bottleneck']")
    rows = {line.split()[0]: line.split()[1] for line in out.split("\n\n")[0].splitlines()[3:]}
    assert rows["bottleneck"] == "CSE" and rows["enc1"] == "-"
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        cli.main(["summary", "--config", str(tmp_path / "missing.yaml")])
