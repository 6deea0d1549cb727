"""Speed options that leave the maths alone: channels-last layout, ``torch.compile``, cuDNN autotuning.

``model.channels_last`` stores conv weights and feeds inputs as NHWC (NDHWC in 3D), the layout tensor
cores read fastest; ``model.compile`` compiles the network's forward in place (``nn.Module.compile``), so
``state_dict`` keys, checkpoints and outputs (up to kernel rounding) are those of the plain network.
"""

from __future__ import annotations

import contextlib
import locale
from functools import partial
from typing import Any, Optional

import torch
from torch import nn


def memory_format(spatial_dims: int) -> torch.memory_format:
    """``channels_last`` for 2D networks (4D tensors), ``channels_last_3d`` for 3D (5D tensors)."""
    if spatial_dims not in (2, 3):
        raise ValueError(f"channels-last needs spatial_dims 2 or 3, got {spatial_dims}")
    return torch.channels_last if spatial_dims == 2 else torch.channels_last_3d


def _input_to(fmt: torch.memory_format, module: nn.Module, args: tuple) -> tuple:
    return (args[0].contiguous(memory_format=fmt), *args[1:])


def use_channels_last(net: nn.Module, spatial_dims: int) -> nn.Module:
    """Convolution weights and every input of ``net`` in channels-last layout (values unchanged)."""
    fmt = memory_format(spatial_dims)
    for tensor in [*net.parameters(), *net.buffers()]:
        if tensor.dim() == spatial_dims + 2:
            tensor.data = tensor.data.contiguous(memory_format=fmt)
    net.register_forward_pre_hook(partial(_input_to, fmt))
    return net


def compiler_problem(device_type: str) -> Optional[str]:
    """Why TorchInductor cannot compile for ``device_type`` here (None when it can).

    CPU kernels are C++ built with the system compiler (``CXX``, else g++/clang++); CUDA kernels need Triton.
    """
    if device_type == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "TorchInductor needs Triton for CUDA kernels (pip install triton)"
    if device_type == "cpu":
        try:
            from torch._inductor.cpp_builder import get_cpp_compiler

            get_cpp_compiler()
        except Exception as error:  # noqa: BLE001 - inductor raises its own types; the message is what matters
            return f"TorchInductor needs a C++ compiler for CPU kernels (install g++ or set CXX): {error}"
        return None
    return f"no TorchInductor backend for device type {device_type!r}"


def _import_inductor() -> None:
    """Import TorchInductor under a UTF-8 ``LC_CTYPE``: it reads its (UTF-8) kernel templates with ``open()``'s
    locale encoding, and GDCM (SimpleITK's DICOM writer) switches the process locale to "C" (ASCII)."""
    previous = locale.setlocale(locale.LC_CTYPE)
    try:
        if locale.getpreferredencoding(False).replace("-", "").lower() != "utf8":
            with contextlib.suppress(locale.Error):
                locale.setlocale(locale.LC_CTYPE, "C.UTF-8")
        import torch._inductor.compile_fx  # noqa: F401
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


def compile_network(net: nn.Module, device_type: str, **options: Any) -> nn.Module:
    """``net.compile(**options)`` in place after checking that a compiler exists for ``device_type``."""
    problem = compiler_problem(device_type)
    if problem:
        raise RuntimeError(f"model.compile: true, but torch.compile cannot run on {device_type}: {problem}. "
                           "Set model.compile: false to run the network uncompiled.")
    _import_inductor()
    net.compile(**options)
    return net


def wants_cudnn_benchmark(spatial_dims: int, conform: Any, deterministic: Any = None) -> bool:
    """cuDNN autotuning pays off when every training batch has one shape: 2D slices of conformed volumes."""
    return spatial_dims == 2 and conform is not None and not deterministic


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 when it is bf16/fp16 (mixed-precision outputs); float32/float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
