"""A run's identity: its config with what does not change the experiment taken out (the run folder) and
every attention spec in its shortest form. ``medseg sweep`` hashes it into run folder names and reuses
finished runs by it; ``medseg report`` checks with it that a cell's runs differ only in seed or fold."""

from __future__ import annotations

import copy

from medseg.blocks import canonical_attention


def canonical_config(config: dict) -> dict:
    """The run's identity: the config without ``trainer.default_root_dir`` and with every attention spec
    (``model.network.attention``, the values of a placement dict) in its shortest form, so that
    ``{name: scse, aggregation: add}`` and ``scse`` are one run (:func:`medseg.blocks.canonical_attention`)."""
    c = copy.deepcopy(config)
    if isinstance(c.get("trainer"), dict):
        c["trainer"].pop("default_root_dir", None)
    network = (c.get("model") or {}).get("network")
    if isinstance(network, dict):
        if "attention" in network:
            network["attention"] = canonical_attention(network["attention"])
        if isinstance(network.get("placement"), dict):
            network["placement"] = {k: canonical_attention(v) for k, v in network["placement"].items()}
    return c
