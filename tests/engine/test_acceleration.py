"""channels-last and torch.compile give the plain network's outputs; cuDNN autotuning and pinned memory switch on when they should."""

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

from medseg.engine.acceleration import compile_network, compiler_problem, use_channels_last, wants_cudnn_benchmark
from medseg.engine.config import NetworkConfig
from medseg.engine.module import SegmentationModule
from medseg.nets import build_network

TINY = {"features": 4, "depth": 2, "kernel_size": 3}


def _pair(name: str, spatial_dims: int, options: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    plain = build_network(name, 1, 3, spatial_dims, attention="scse", **options).double().eval()
    fast = build_network(name, 1, 3, spatial_dims, attention="scse", **options).double().eval()
    fast.load_state_dict(plain.state_dict())
    return plain, fast


@pytest.mark.parametrize(("name", "spatial_dims", "options"), [
    ("unet", 2, TINY), ("quicknat", 2, {"features": 4, "depth": 2}), ("unet", 3, TINY)])
def test_channels_last_gives_the_plain_outputs_in_float64(name, spatial_dims, options):
    plain, fast = _pair(name, spatial_dims, options)
    use_channels_last(fast, spatial_dims)
    fmt = torch.channels_last if spatial_dims == 2 else torch.channels_last_3d
    convs = [p for p in fast.parameters() if p.dim() == spatial_dims + 2]
    assert all(p.is_contiguous(memory_format=fmt) for p in convs)
    assert any(not p.is_contiguous() for p in convs)  # the layout did change (C = 1 or 1×1 kernels look alike)
    assert list(fast.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 1, *[16] * spatial_dims, dtype=torch.float64)
    with torch.no_grad():
        # float64: the reordered sums of the NHWC kernels differ by rounding only (~1e-16 relative)
        torch.testing.assert_close(fast(x), plain(x), rtol=1e-10, atol=1e-12)


def test_module_option_channels_last_converts_the_network_and_checkpoints_stay_plain(tmp_path):
    module = SegmentationModule(NetworkConfig("unet", "scse", options=TINY), num_classes=3, channels_last=True)
    convs = [p for p in module.net.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    plain = SegmentationModule(NetworkConfig("unet", "scse", options=TINY), num_classes=3)
    plain.load_state_dict(module.state_dict())  # same keys and shapes: checkpoints interchange


def test_compile_without_a_compiler_says_so():
    from torch._inductor import config

    with config.patch({"cpp.cxx": ("medseg-no-such-compiler",)}):
        assert "C++ compiler" in compiler_problem("cpu")
        with pytest.raises(RuntimeError, match="model.compile: true, but torch.compile cannot run on cpu.*model.compile: false"):
            compile_network(torch.nn.Conv2d(1, 1, 1), "cpu")


@pytest.mark.slow
@pytest.mark.skipif(compiler_problem("cpu") is not None, reason=f"TorchInductor cannot compile here: {compiler_problem('cpu')}")
def test_module_option_compile_gives_the_plain_outputs_in_float64():
    torch.manual_seed(0)
    module = SegmentationModule(NetworkConfig("unet", "scse", options=TINY), num_classes=3, compile=True).double().eval()
    plain = build_network("unet", 1, 3, 2, attention="scse", **TINY).double().eval()
    plain.load_state_dict(module.net.state_dict())
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    module.setup("test")
    assert module.net._compiled_call_impl is not None
    x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        # float64: inductor fuses and reorders element-wise ops; differences are rounding only
        torch.testing.assert_close(module(x), plain(x), rtol=1e-10, atol=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(compiler_problem("cpu") is not None, reason=f"TorchInductor cannot compile here: {compiler_problem('cpu')}")
def test_compile_works_after_a_library_set_the_c_locale():
    """GDCM (DICOM writing) sets the process locale to "C"; inductor then failed to read its UTF-8 templates."""
    code = (
        "import locale, torch\n"
        "from medseg.engine.acceleration import compile_network\n"
        "locale.setlocale(locale.LC_ALL, 'C')\n"
        "assert locale.getpreferredencoding(False) != 'UTF-8'\n"
        "net = compile_network(torch.nn.Conv2d(2, 3, 1).double(), 'cpu')\n"
        "x = torch.randn(1, 2, 4, 4, dtype=torch.float64)\n"
        "torch.testing.assert_close(net(x), torch.nn.functional.conv2d(x, net.weight, net.bias))\n"
        "print('compiled', locale.setlocale(locale.LC_CTYPE))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "compiled C"  # the caller's locale is restored


def test_cudnn_benchmark_only_for_fixed_size_2d():
    assert wants_cudnn_benchmark(2, 256)
    assert not wants_cudnn_benchmark(2, None)  # volumes of different sizes: every new shape re-tunes
    assert not wants_cudnn_benchmark(3, 256)
    assert not wants_cudnn_benchmark(2, 256, deterministic=True)


def test_cli_turns_cudnn_benchmark_on_for_conformed_2d(tmp_path, monkeypatch):
    from medseg.data.synth import synth
    from medseg.engine.cli import run_lightning_cli

    synth("malc", str(tmp_path / "data"), subjects=2, size=16, validation=1, test=0)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    args = ["fit", "--data.manifest", str(tmp_path / "data" / "dataset.json"), "--trainer.accelerator", "cpu",
            "--trainer.max_epochs", "0", "--trainer.logger", "false", "--model.network.options", str(TINY)]
    run_lightning_cli([*args, "--trainer.default_root_dir", str(tmp_path / "run")])
    assert torch.backends.cudnn.benchmark is False
    run_lightning_cli([*args, "--trainer.default_root_dir", str(tmp_path / "run-conformed"), "--data.conform", "16"])
    assert torch.backends.cudnn.benchmark is True


def test_loaders_pin_memory_only_on_cuda(tmp_path):
    from medseg.data import SegmentationDataModule
    from medseg.data.synth import synth

    synth("malc", str(tmp_path / "data"), subjects=2, size=16, validation=0, test=1)
    data = SegmentationDataModule(str(tmp_path / "data" / "dataset.json"), plane="axial")
    assert not data.test_dataloader().pin_memory  # no trainer
    data.trainer = SimpleNamespace(accelerator=CPUAccelerator())
    assert not data.train_dataloader().pin_memory
    data.trainer = SimpleNamespace(accelerator=CUDAAccelerator())
    assert data.train_dataloader().pin_memory and data.test_dataloader().pin_memory


def test_gpu_config_parses_with_mixed_precision_and_channels_last(capsys):
    from pathlib import Path

    from medseg.engine.cli import run_lightning_cli

    config = Path(__file__).parents[2] / "experiments" / "base" / "quicknat_2d_gpu.yaml"
    with pytest.raises(SystemExit) as stop:
        run_lightning_cli(["fit", "--config", str(config), "--print_config"])
    printed = capsys.readouterr().out
    assert stop.value.code == 0 and "precision: bf16-mixed" in printed and "channels_last: true" in printed
