"""``SegmentationModule``: the LightningModule configured by the ``model:`` YAML section.

Training: loss on slices/patches (``train/loss``). Validation and test: whole subjects (one per batch),
volume inference (:func:`medseg.engine.inference.predict_volume`), Dice per structure from one
confusion matrix, gathered across ranks by subject id. Validation logs ``val/mean_dice`` (mean over
subjects of the mean foreground Dice) and ``val/dice/<structure>``; test writes ``D/results/``;
predict writes ``D/predictions/<id>.nii.gz`` on each input's original grid and affine (with MC dropout,
``inference.mc_samples``, also ``<id>_uncertainty.nii.gz``: the entropy of the mean probabilities) and the
viewer label tables (:mod:`medseg.engine.prediction_output`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Timer
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import nn

from medseg.data.preprocess import to_original_grid
from medseg.data.readers import write_volume
from medseg.data.slicing import PLANE_AXIS
from medseg.data.validate import DataError
from medseg.engine.acceleration import compile_network, use_channels_last
from medseg.engine.auxiliary_loss import check_deep_supervision, training_loss
from medseg.engine.checkpoint import load_module, plain_config
from medseg.engine.config import InferenceConfig, LossConfig, NetworkConfig, OptimizerConfig
from medseg.engine.distributed import gather_by_id
from medseg.engine.inference import predict_volume, probability_dtype
from medseg.engine.losses import SegmentationLoss, class_counts, median_frequency_weights
from medseg.engine.postprocess import labels_from_probabilities
from medseg.engine.prediction_output import write_prediction
from medseg.engine.resume import apply_optimizer_config
from medseg.engine.schedules import poly_lr
from medseg.eval.label_tables import write_label_tables
from medseg.eval.metrics import (check_surface_dice_tolerance, confusion_matrix, dice_from_confusion, dice_per_structure,
                                 normalized_surface_dice, surface_distances)
from medseg.eval.results import result_rows, summarise, write_results
from medseg.nets import attention_parameters, build_network, count_parameters
from medseg.nets.auxiliary import enable_auxiliary, has_auxiliary


def _coerce(value: Any, cls: type) -> Any:
    """YAML dicts (e.g. hyper-parameters reloaded from a checkpoint) → the config dataclass."""
    return cls(**value) if isinstance(value, dict) else (value if value is not None else cls())


class SegmentationModule(pl.LightningModule):
    def __init__(
        self,
        network: NetworkConfig,
        num_classes: int = 2,
        in_channels: int = 1,
        spatial_dims: int = 2,
        plane: str = "axial",
        class_names: Optional[list[str]] = None,
        loss: Optional[LossConfig] = None,
        optimizer: Optional[OptimizerConfig] = None,
        inference: Optional[InferenceConfig] = None,
        channels_last: bool = False,
        compile: bool = False,  # noqa: A002 - the YAML key is model.compile
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.network_config = _coerce(network, NetworkConfig)
        self.loss_config = _coerce(loss, LossConfig)
        self.optimizer_config = _coerce(optimizer, OptimizerConfig)
        self.inference_config = _coerce(inference, InferenceConfig)  # checks every option (InferenceConfig)
        tolerance = self.inference_config.surface_dice_tolerance
        if tolerance is not None:
            check_surface_dice_tolerance(tolerance, "model.inference.surface_dice_tolerance")
        self.num_classes, self.spatial_dims, self.plane = num_classes, spatial_dims, plane
        self.class_names = list(class_names) if class_names else [f"class_{c}" for c in range(num_classes)]
        if len(self.class_names) != num_classes:
            raise ValueError(f"model.class_names has {len(self.class_names)} names for num_classes={num_classes}")
        nc = self.network_config
        self.net = build_network(nc.name, in_channels, num_classes, spatial_dims, nc.attention, nc.placement, **nc.options)
        if channels_last:
            use_channels_last(self.net, spatial_dims)
        lc = self.loss_config
        self.deep_supervision = check_deep_supervision(lc.deep_supervision)
        kinds = tuple(k for k, w in (("presence", lc.se_loss), ("segmentation", lc.aux_weight)) if w)
        try:
            enable_auxiliary(self.net, num_classes, kinds, len(self.deep_supervision))
        except ValueError as err:
            raise ValueError(f"model.loss.deep_supervision: {err}") from err
        self.criterion = SegmentationLoss(lc.name, num_classes, lc.ce_weight, lc.dice_weight, lc.boundary_weight, lc.smooth,
                                          lc.batch_dice)
        self._other_views: dict[str, nn.Module] = {}
        self._scores: dict[str, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def setup(self, stage: str) -> None:
        """Every input large enough for the network (:meth:`check_input_sizes`); ``model.compile``: compile
        the network in place for the device it runs on."""
        self.check_input_sizes(stage)
        if self.hparams.compile:
            compile_network(self.net, self.trainer.strategy.root_device.type)

    def check_input_sizes(self, stage: str) -> None:
        """A 2D network halves its input ``depth`` times, so each in-plane axis of every slice it sees needs
        ``2**depth`` voxels: a subject whose preprocessed volume is smaller is an error naming the subject
        and its file, before any step (issue 25 defect 24). 3D inference pads to ``roi_size`` instead."""
        need = getattr(self.net, "min_input_size", None)
        sizes = getattr(getattr(self._trainer, "datamodule", None), "input_sizes", None) if self._trainer else None
        if self.spatial_dims != 2 or need is None or not callable(sizes):
            return
        planes = [self.plane, *self.inference_config.views]
        too_small = []
        for subject, image, shape in sizes(stage):
            for plane in planes:
                in_plane = [n for axis, n in enumerate(shape[:3]) if axis != PLANE_AXIS[plane]]
                if min(in_plane) < need:
                    too_small.append(f"{image}: subject {subject!r}: preprocessed size {tuple(shape)} gives {plane} "
                                     f"slices of {tuple(in_plane)}")
                    break
        if too_small:
            depth = getattr(self.net, "depth", "?")
            raise DataError(f"the network ({self.network_config.name}, depth {depth}) needs at least {need} (2**depth) "
                            "voxels along each in-plane axis:\n  " + "\n  ".join(too_small)
                            + "\nuse a smaller model.network.options.depth, or data.conform / data.spacing that "
                            f"give at least {need} voxels")

    # ---------------------------------------------------------------- training
    def on_fit_start(self) -> None:
        """QuickNAT class weights, once, from the training labels (kept in the checkpoint on resume)."""
        if not self.criterion.needs_class_weights:
            return
        datamodule = self.trainer.datamodule
        if datamodule is None:
            raise RuntimeError(f"loss {self.criterion.name}: class weights need a datamodule with training labels")
        with torch.random.fork_rng():  # counting must not shift the training shuffle
            counts = class_counts((b["label"] for b in datamodule.train_dataloader()), self.num_classes)
        self.criterion.set_class_weights(median_frequency_weights(counts).to(self.device))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._saved_optimizer = plain_config((checkpoint.get("hyper_parameters") or {}).get("optimizer") or {})
        self._loaded_progress = {k: checkpoint.get(k) for k in ("epoch", "global_step")}

    def on_train_start(self) -> None:
        """A resumed fit runs under the config's optimizer settings (:mod:`medseg.engine.resume`)."""
        saved, self._saved_optimizer = getattr(self, "_saved_optimizer", None), None
        if saved and self.trainer.optimizers:
            schedulers = [c.scheduler for c in self.trainer.lr_scheduler_configs]
            changed = apply_optimizer_config(self.trainer.optimizers[0], schedulers, asdict(self.optimizer_config), saved)
            if changed:
                rank_zero_info("resumed with the config's optimizer settings: " + "; ".join(changed))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """The segmentation loss, plus the auxiliary terms (deep supervision, SE-loss, block heads) when
        ``model.loss`` turned heads on (:mod:`medseg.engine.auxiliary_loss`)."""
        image, label, size = batch["image"], batch["label"], batch["image"].shape[0]
        if not has_auxiliary(self.net):
            loss = self.criterion(self.net(image), label)
            self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
            return loss
        logits, aux = self.net.forward_with_auxiliary(image)
        lc = self.loss_config
        loss, terms = training_loss(self.criterion, logits, aux, label, self.deep_supervision, lc.se_loss, lc.aux_weight)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log_dict({f"train/loss_{k}": v.detach() for k, v in terms.items()}, on_step=False, on_epoch=True, batch_size=size)
        return loss

    def configure_optimizers(self) -> Any:
        oc = self.optimizer_config
        optimizers = {
            "adam": lambda p: torch.optim.Adam(p, lr=oc.lr, weight_decay=oc.weight_decay),
            "adamw": lambda p: torch.optim.AdamW(p, lr=oc.lr, weight_decay=oc.weight_decay),
            "sgd": lambda p: torch.optim.SGD(p, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay),
        }
        if oc.name not in optimizers:
            raise ValueError(f"model.optimizer.name: unknown optimizer {oc.name!r}; choose one of {', '.join(optimizers)}")
        optimizer = optimizers[oc.name](self.parameters())
        schedulers = {
            None: None,
            "step": lambda: torch.optim.lr_scheduler.StepLR(optimizer, oc.step_size, oc.gamma),
            "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, self.trainer.max_epochs or 1)),
            "poly": lambda: poly_lr(optimizer, self.trainer.max_epochs, oc.poly_exponent, self._time_progress()),
            "plateau": lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=oc.gamma),
        }
        if oc.scheduler not in schedulers:
            raise ValueError(f"model.optimizer.scheduler: unknown scheduler {oc.scheduler!r}; choose one of {list(schedulers)}")
        if oc.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedulers[oc.scheduler](), "monitor": oc.monitor}}

    def _time_progress(self) -> Any:
        """Fraction of ``trainer.max_time`` spent so far (a callable), or None without a time budget."""
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        if timer is None or timer.time_remaining("train") is None:
            return None
        return lambda: timer.time_elapsed("train") / max(1e-9, timer.time_elapsed("train") + timer.time_remaining("train"))

    # ---------------------------------------------------------------- volume inference
    def load_views(self) -> None:
        """Load the other per-plane models named in ``inference.views`` for multi-view fusion."""
        self.use_views({plane: load_module(path, f"model.inference.views.{plane}", type(self))
                        for plane, path in self.inference_config.views.items()},
                       {plane: str(path) for plane, path in self.inference_config.views.items()})

    def use_views(self, views: dict[str, "SegmentationModule"], sources: Optional[dict[str, str]] = None) -> None:
        """Fuse these other per-plane models (``{plane: module}``, named by ``sources`` in errors) with this one."""
        for plane, other in views.items():
            source = (sources or {}).get(plane, f"model.inference.views.{plane}")
            if plane == self.plane:
                raise ValueError(f"model.inference.views: plane {plane!r} is this model's own plane; list only the others")
            if other.num_classes != self.num_classes:
                raise ValueError(f"{source}: {other.num_classes} classes, this model has {self.num_classes}")
            self._other_views[plane] = other.to(self.device).net.eval()

    def predict_probabilities(self, image: torch.Tensor) -> torch.Tensor:
        """(C, X, Y, Z) preprocessed volume → (K, X, Y, Z) probabilities (fused over views when configured)."""
        ic = self.inference_config
        models: nn.Module | dict[str, nn.Module] = self.net
        if self._other_views:
            models = {self.plane: self.net, **{p: m.to(self.device) for p, m in self._other_views.items()}}
        return predict_volume(
            models, image, self.num_classes, self.spatial_dims, self.plane, ic.view_weights, ic.batch_size,
            ic.roi_size, ic.overlap, probability_dtype(ic.prob_dtype), mc_samples=ic.mc_samples,
        )

    def _subject(self, batch: dict[str, Any]) -> tuple[str, np.ndarray, np.ndarray]:
        if batch["image"].shape[0] != 1:
            raise ValueError(f"evaluation loaders must yield one subject per batch, got batch size {batch['image'].shape[0]}")
        prediction = labels_from_probabilities(self.predict_probabilities(batch["image"][0]),
                                               self.inference_config.min_component_voxels)
        return str(batch["id"][0]), prediction, batch["label"][0].cpu().numpy()

    # ---------------------------------------------------------------- validation
    def on_validation_epoch_start(self) -> None:
        self._scores = {}

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        subject, prediction, reference = self._subject(batch)
        self._scores[subject] = dice_per_structure(prediction, reference, self.num_classes)

    def on_validation_epoch_end(self) -> None:
        scores = gather_by_id(self._scores)  # every rank gets the same values: no further sync needed
        if not scores:
            return
        summary = summarise(scores, self.class_names)
        metrics = {"val/mean_dice": summary["mean_dice"]}
        metrics.update({f"val/dice/{name}": v for name, v in summary["per_structure"].items()})
        self.log_dict({k: float("nan") if v is None else v for k, v in metrics.items()}, batch_size=1, sync_dist=True)

    # ---------------------------------------------------------------- test
    def on_test_epoch_start(self) -> None:
        self._scores = {}
        self.load_views()

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        subject, prediction, reference = self._subject(batch)
        confusion = confusion_matrix(prediction, reference, self.num_classes)
        dice = dice_from_confusion(confusion)
        ic = self.inference_config
        affine = np.asarray(batch["meta"]["affine"]).reshape(4, 4) if "meta" in batch else np.eye(4)
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        hd95 = asd = nsd = None
        if ic.surface_distances:
            hd95, asd = surface_distances(prediction, reference, self.num_classes, spacing)
        if ic.surface_dice_tolerance is not None:
            nsd = normalized_surface_dice(prediction, reference, self.num_classes, ic.surface_dice_tolerance, spacing)
        self._scores[subject] = (dice, hd95, asd, nsd, confusion)

    def on_test_epoch_end(self) -> None:
        scores = gather_by_id(self._scores)
        dice = {s: v[0] for s, v in scores.items()}
        summary = summarise(dice, self.class_names)
        self.log("test/mean_dice", float("nan") if summary["mean_dice"] is None else summary["mean_dice"], batch_size=1, sync_dist=True)
        if not self.trainer.is_global_zero:
            return
        rows = [r for s, (d, hd, asd, nsd, cm) in scores.items() for r in result_rows(s, d, self.class_names, hd, asd, nsd, cm)]
        write_results(Path(self.trainer.default_root_dir) / "results", rows,
                      {**summary, **self.run_description(), "checkpoint": self.tested_checkpoint()})

    def tested_checkpoint(self) -> dict[str, Any] | None:
        """Which weights were tested (issue 25 defect 15): the checkpoint file's absolute path, sha256, and
        the epoch and global step it was saved at; None for weights in memory (no ``ckpt_path``)."""
        path = self.trainer.ckpt_path
        if not path or not Path(path).is_file():
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        progress = getattr(self, "_loaded_progress", None) or {}
        return {"path": str(Path(path).resolve()), "sha256": digest.hexdigest(), **progress}

    def run_description(self) -> dict[str, Any]:
        """Summary fields that identify the run: sizes, network, dataset and a hash of the configuration."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        config = {"model": dict(self.hparams), "data": dict(getattr(datamodule, "hparams", {}) or {})}
        text = json.dumps(config, sort_keys=True, default=str)
        nc = self.network_config
        return {
            "params": count_parameters(self.net),
            "attention_params": attention_parameters(self.net),
            "config_hash": hashlib.sha256(text.encode()).hexdigest()[:16],
            "network": nc.name,
            "attention": nc.attention,
            "placement": self.net.placement,  # "default" resolved by build_network
            "dataset": getattr(getattr(datamodule, "manifest", None), "name", None),
            "inference": asdict(self.inference_config),
        }

    # ---------------------------------------------------------------- predict
    def on_predict_epoch_start(self) -> None:
        self.load_views()

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        probs = self.predict_probabilities(batch["image"][0])
        out_dir = Path(self.trainer.default_root_dir) / "predictions"
        write_prediction(out_dir, str(batch["id"][0]), probs, batch["meta"], self.num_classes, self.inference_config)

    def on_predict_epoch_end(self) -> None:
        if self.trainer.is_global_zero:
            write_label_tables(Path(self.trainer.default_root_dir) / "predictions", self.class_names)
