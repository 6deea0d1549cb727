"""Attention-map figures (scSE TMI 2019 Fig. 6 style): sSE spatial maps q over the slice, cSE weights s.

``collect_attention`` switches ``keep_attention`` on for the blocks at a network's attention sites and its
skip gates (``gate1..gateK``: attention gates' α, GAU's channel weights), runs one forward pass and
returns, per site, the channel weights s ∈ (0, 1)^C and the spatial map q over the slice of the first
batch item (whichever the block has; FPA's pyramid map, PSANet's collect attention of the central
position, EncNet's γ are among them; pairwise N×N maps are left out). ``attention_figure`` draws them.
Loading a trained run folder (config + checkpoint) is the engine's job: :mod:`medseg.engine.maps`.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.nn import functional as F

from medseg.blocks import AttentionBlock
from medseg.eval.plots import plt


def _classify(t: torch.Tensor, spatial_dims: int) -> tuple[str, torch.Tensor] | None:
    """(B, C[, 1...]) → ("channel", (C,)); (B, 1, *spatial) → ("spatial", spatial); other maps → None."""
    x = t[0].float()
    if x.ndim >= 1 and all(d == 1 for d in x.shape[1:]) and x.shape[0] > 1:
        return "channel", x.reshape(-1)
    if x.ndim == spatial_dims + 1 and x.shape[0] == 1 and x[0].numel() > 1:
        return "spatial", x[0]
    return None


@torch.no_grad()
def collect_attention(net: nn.Module, image: torch.Tensor) -> "OrderedDict[str, dict[str, torch.Tensor]]":
    """Per site (``net.attention_sites`` order): {"channel": (C,), "spatial": (*spatial,)} for item 0.

    The network runs in eval mode; ``keep_attention`` flags and the training mode are restored after.
    """
    sites = getattr(net, "attention_sites", None)
    if sites is None:
        raise ValueError(f"collect_attention: {type(net).__name__} has no attention_sites")
    sites = OrderedDict(sites)
    for k, gate in enumerate(getattr(net, "gates", None) or [], start=1):
        sites[f"gate{k}"] = gate
    blocks = {name: [m for m in site.modules() if isinstance(m, AttentionBlock)] for name, site in sites.items()}
    flags = {m: m.keep_attention for bs in blocks.values() for m in bs}
    was_training = net.training
    try:
        for m in flags:
            m.keep_attention, m.attention_map = True, None
        net.eval()
        net(image)
        out: OrderedDict[str, dict[str, torch.Tensor]] = OrderedDict()
        for name, bs in blocks.items():
            maps: dict[str, torch.Tensor] = {}
            for m in bs:
                stored = m.attention_map
                items = stored.values() if isinstance(stored, dict) else [stored] if stored is not None else []
                for t in items:
                    kind = _classify(t, m.spatial_dims)
                    if kind and kind[0] not in maps:
                        maps[kind[0]] = kind[1].cpu()
            if maps:
                out[name] = maps
        return out
    finally:
        for m, flag in flags.items():
            m.keep_attention, m.attention_map = flag, None
        net.train(was_training)


def attention_figure(image: np.ndarray | torch.Tensor, maps: "OrderedDict[str, dict[str, torch.Tensor]]",
                     label: np.ndarray | torch.Tensor | None = None, title: str = "") -> Figure:
    """Top row: the slice with each site's sSE map q (upsampled bilinearly) overlaid; bottom: cSE weights s.

    ``image`` is the 2D slice (H, W); 3D maps are shown at their middle slice along the last axis.
    """
    image = np.asarray(image, dtype=float)
    label = None if label is None else np.asarray(label)
    if image.ndim != 2:
        raise ValueError(f"attention_figure: image must be a 2D slice (H, W), got shape {image.shape}")
    if not maps:
        raise ValueError("attention_figure: no attention maps (is attention placed at any site?)")
    fig, axes = plt.subplots(2, len(maps), figsize=(2.6 * len(maps), 5.2), squeeze=False)
    for col, (site, m) in enumerate(maps.items()):
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(image.T, cmap="gray", origin="lower")
        if label is not None:
            top.contour(label.T, levels=np.arange(0.5, float(label.max()) + 0.5), colors="w",
                        linewidths=0.4, origin="lower")
        if "spatial" in m:
            q = m["spatial"]
            q = q[..., q.shape[-1] // 2] if q.ndim == 3 else q
            q = F.interpolate(q[None, None], size=image.shape, mode="bilinear", align_corners=False)[0, 0]
            overlay = top.imshow(q.numpy().T, cmap="jet", alpha=0.45, vmin=0, vmax=1, origin="lower")
        top.set_title(f"{site}" + ("" if "spatial" in m else " (no sSE)"), fontsize=9)
        top.axis("off")
        if "channel" in m:
            s = m["channel"].numpy()
            bottom.bar(np.arange(len(s)), s, width=1.0, color="tab:blue")
            bottom.set_ylim(0, 1)
            bottom.set_xlabel("channel", fontsize=8)
            bottom.tick_params(labelsize=7)
        else:
            bottom.axis("off")
    axes[1, 0].set_ylabel("cSE weight s", fontsize=8)
    if any("spatial" in m for m in maps.values()):
        fig.colorbar(overlay, ax=axes[0, :].tolist(), fraction=0.02, label="sSE map q")
    fig.suptitle(title)
    return fig
