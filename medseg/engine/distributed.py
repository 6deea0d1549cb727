"""Gather per-subject results across DDP ranks, keyed by subject id."""

from __future__ import annotations

from typing import Any, Mapping

import torch.distributed as dist


def gather_by_id(local: Mapping[str, Any]) -> dict[str, Any]:
    """Union of every rank's {subject id: result}, sorted by id.

    A distributed sampler pads uneven splits with repeated subjects; a repeated id is counted once
    (the first rank's copy), and every subject seen on any rank is kept. Collective: all ranks call it.
    """
    parts: list[Any] = [dict(local)]
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        parts = [None] * dist.get_world_size()
        dist.all_gather_object(parts, dict(local))
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            merged.setdefault(key, value)
    return dict(sorted(merged.items()))
