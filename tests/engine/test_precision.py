"""``cpu_bf16``: bf16-mixed on CPUs with native bf16 when ``trainer.precision`` is unset; the same rule in fit,
test and the file-based predict; what ran is recorded in ``training.json``."""

import json

import pytest
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

import medseg.engine.precision as precision_module
from medseg.engine.precision import cpu_flags, cpu_isa, cpu_model, native_cpu_bf16, resolve_precision, trains_on_cpu

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse2 avx2 avx512f {extra}
bugs\t\t: spectre_v1

processor\t: 1
flags\t\t: fpu sse2
"""
TINY = {"features": 4, "depth": 2}


@pytest.mark.parametrize("extra, native", [("avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512_vnni", False)])
def test_native_bf16_is_read_from_the_first_flags_line(extra, native):
    flags = cpu_flags(CPUINFO.format(extra=extra))
    assert {"avx2", "avx512f"} <= flags and "spectre_v1" not in flags  # the bugs line is not flags
    assert native_cpu_bf16(flags) is native
    assert cpu_flags("no flags here") == set()


def test_isa_names_the_extensions_present_widest_first():
    assert cpu_isa(cpu_flags(CPUINFO.format(extra="avx512_bf16"))) == ["avx512_bf16", "avx512f", "avx2"]
    assert cpu_isa({"avx2", "sse2", "fma"}) == ["avx2"]
    assert cpu_isa(set()) == []


def test_model_name_is_read_from_cpuinfo():
    text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13 64-Core Processor\nflags\t\t: avx2\n"
    assert cpu_model(text) == "AMD EPYC 7B13 64-Core Processor"
    assert cpu_model(CPUINFO.format(extra="")) == "unknown"  # no model name line


def test_resolution_explicit_precision_wins_and_gpus_are_never_changed():
    assert resolve_precision(None, "native", on_cpu=True, native=True) == "bf16-mixed"
    assert resolve_precision(None, "native", on_cpu=True, native=False) is None  # emulated bf16 is slower
    assert resolve_precision(None, "never", on_cpu=True, native=True) is None
    assert resolve_precision(None, None, on_cpu=True, native=True) is None  # configs from before the key
    assert resolve_precision("32-true", "native", on_cpu=True, native=True) == "32-true"
    assert resolve_precision("16-mixed", "native", on_cpu=True, native=True) == "16-mixed"
    assert resolve_precision(None, "native", on_cpu=False, native=True) is None
    with pytest.raises(ValueError, match="cpu_bf16 must be one of never, native, got 'always'"):
        resolve_precision(None, "always", on_cpu=True)


def test_accelerator_names_and_instances():
    assert trains_on_cpu("cpu") and trains_on_cpu(CPUAccelerator())
    assert not trains_on_cpu("cuda") and not trains_on_cpu("gpu") and not trains_on_cpu(CUDAAccelerator())


@pytest.fixture
def data(tmp_path_factory):
    from medseg.data.synth import synth

    out = tmp_path_factory.mktemp("data")
    synth("malc", str(out), subjects=3, size=16, validation=1, test=1)
    return out / "dataset.json"


def _fit(manifest, root, *extra):
    from medseg.engine.cli import run_lightning_cli

    run_lightning_cli(["fit", "--data.manifest", str(manifest), "--data.plane", "axial", "--trainer.accelerator", "cpu",
                       "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1", "--trainer.logger", "false",
                       "--trainer.enable_progress_bar", "false", "--model.network.options", json.dumps(TINY),
                       "--trainer.default_root_dir", str(root), *extra])
    return json.loads((root / "results" / "training.json").read_text(encoding="utf-8"))["precision"]


@pytest.mark.parametrize("native", [True, False])
def test_fit_runs_in_what_the_rule_says_and_records_it(data, tmp_path, monkeypatch, native):
    monkeypatch.setattr(precision_module, "native_cpu_bf16", lambda flags=None: native)
    assert _fit(data, tmp_path / "native", "--cpu_bf16", "native") == ("bf16-mixed" if native else "32-true")
    assert _fit(data, tmp_path / "never") == "32-true"  # the default
    assert _fit(data, tmp_path / "explicit", "--cpu_bf16", "native", "--trainer.precision", "32-true") == "32-true"


def test_bad_policy_is_refused_by_the_parser(data, tmp_path):
    with pytest.raises(SystemExit):
        _fit(data, tmp_path / "bad", "--cpu_bf16", "always")
    assert not (tmp_path / "bad" / "results").exists()


def test_file_predict_takes_the_runs_policy_through_the_same_rule(data, tmp_path, monkeypatch):
    import medseg.engine.predict_files as predict_files

    monkeypatch.setattr(precision_module, "native_cpu_bf16", lambda flags=None: True)
    run = tmp_path / "run"
    assert _fit(data, run, "--cpu_bf16", "native") == "bf16-mixed"
    seen = []
    original = predict_files.precision_context
    monkeypatch.setattr(predict_files, "precision_context", lambda p, d: seen.append(p) or original(p, d))
    image = json.loads(data.read_text(encoding="utf-8"))["test"][0]["image"]
    image = (data.parent / image) if not image.startswith("/") else image
    assert predict_files.predict_files([str(image)], str(tmp_path / "out"), str(run), device="cpu") == 0
    assert seen == ["bf16-mixed"]
