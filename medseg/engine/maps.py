"""``medseg maps RUN_DIR``: the attention-map figure of a trained 2D run (scSE TMI 2019 Fig. 6 style).

Loads ``D/config.yaml`` (data section) and ``D/checkpoints/<checkpoint>``, takes one slice of a test
subject and draws :func:`medseg.eval.attention_maps.attention_figure` from
:func:`~medseg.eval.attention_maps.collect_attention`. Checkpoint loading lives here, in the engine, so
that ``medseg.eval`` stays below it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from matplotlib.figure import Figure

from medseg.atomic import save_figure
from medseg.data import SegmentationDataModule
from medseg.data.slicing import PLANE_AXIS
from medseg.engine.checkpoint import load_module
from medseg.eval.attention_maps import attention_figure, collect_attention


def run_attention_figure(run_dir: str | Path, subject: int = 0, slice_index: int | None = None,
                         checkpoint: str = "last.ckpt") -> Figure:
    """Attention maps of a trained 2D run on one slice of test subject ``subject`` (default: middle slice
    of the run's plane), from ``D/config.yaml`` (data section) and ``D/checkpoints/<checkpoint>``."""
    run_dir = Path(run_dir)
    config_path, ckpt = run_dir / "config.yaml", run_dir / "checkpoints" / checkpoint
    for p in (config_path, ckpt):
        if not p.is_file():
            raise FileNotFoundError(f"run_attention_figure: {p} not found (train the run with medseg fit first)")
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))["data"]
    if data.get("spatial_dims", 2) != 2:
        raise ValueError(f"run_attention_figure: {config_path} has data.spatial_dims={data['spatial_dims']}; 2D runs only")
    volumes = SegmentationDataModule(**data).volumes("test")
    if not 0 <= subject < len(volumes):
        raise ValueError(f"run_attention_figure: subject index {subject} out of range (0..{len(volumes) - 1})")
    volume, axis = volumes[subject], PLANE_AXIS[data["plane"]]
    image, label = torch.as_tensor(np.asarray(volume.image)), torch.as_tensor(np.asarray(volume.label))
    index = image.shape[axis + 1] // 2 if slice_index is None else slice_index
    net = load_module(ckpt, "medseg maps").net
    maps = collect_attention(net, image.select(axis + 1, index)[None].float())
    return attention_figure(image[0].select(axis, index), maps, label.select(axis, index),
                            title=f"{run_dir.name}: {data['plane']} slice {index} of test subject {subject}")


def maps(run_dir: str, out: str | None = None, subject: int = 0, slice_index: int | None = None,
         checkpoint: str = "last.ckpt") -> int:
    """``medseg maps RUN_DIR``: save the per-site attention-map figure of a trained 2D run.

    Args:
        run_dir: run folder D (needs D/config.yaml and D/checkpoints/<checkpoint>).
        out: PNG path (default D/results/attention_maps.png).
        subject: index of the test subject.
        slice_index: slice along the run's plane (default: the middle one).
        checkpoint: checkpoint file name in D/checkpoints.
    """
    figure = run_attention_figure(run_dir, subject, slice_index, checkpoint)
    path = Path(out) if out else Path(run_dir) / "results" / "attention_maps.png"
    save_figure(figure, path)
    print(f"attention maps: {path}")
    return 0
