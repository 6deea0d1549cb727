"""nnU-Net v2 trainer for benchmarks/vs_nnunet.py: the shipped NoMirroring setting (no left-right
mirroring in augmentation or at test time: MALC labels are lateralised) under a wall-clock budget.

Budget ``MEDSEG_NNUNET_BUDGET_S`` seconds (default 900), epochs of ``MEDSEG_NNUNET_ITERS`` iterations
(default 10) and 2 validation iterations. After every epoch the number of epochs is re-set to what fits
the rest of the budget at the last epoch's pace, and the poly schedule's horizon with it, so the learning
rate reaches ~0 when time runs out; training stops at the first epoch end past the budget (or when the
remaining time holds no further epoch), and the final checkpoint is written as usual.
``MEDSEG_NNUNET_BATCH`` overrides the planned batch size (optional). ``MEDSEG_NNUNET_SAVE_AT`` (comma-separated
seconds, optional) writes ``checkpoint_at_<s>s.pth`` at the first epoch end past each of them: the budget points
of benchmarks/vs_peers.py's time-to-Dice curves, taken from one run.

vs_nnunet.py copies this file into ``nnunetv2/training/nnUNetTrainer/`` itself: nnU-Net's trainer lookup
scans that folder's modules before its subpackages, whose ``primus`` trainers import timm -> torchvision,
which does not import beside the CPU torch.
"""

import os
import time

import torch

from nnunetv2.training.nnUNetTrainer.variants.data_augmentation.nnUNetTrainerNoMirroring import nnUNetTrainerNoMirroring


class nnUNetTrainerMedsegBudget(nnUNetTrainerNoMirroring):
    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict, device: torch.device = torch.device("cpu")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.budget_s = float(os.environ.get("MEDSEG_NNUNET_BUDGET_S", "900"))
        self.num_iterations_per_epoch = int(os.environ.get("MEDSEG_NNUNET_ITERS", "10"))
        self.num_val_iterations_per_epoch = 2
        self.num_epochs = 1000
        self.save_at = sorted(float(t) for t in os.environ.get("MEDSEG_NNUNET_SAVE_AT", "").split(",") if t.strip())
        if os.environ.get("MEDSEG_NNUNET_BATCH"):  # the planned batch size (47 here) targets a GPU's memory
            self.configuration_manager.configuration["batch_size"] = int(os.environ["MEDSEG_NNUNET_BATCH"])

    def run_training(self):
        self.on_train_start()
        start = last = time.perf_counter()
        epoch = self.current_epoch
        while epoch < self.num_epochs:
            self.on_epoch_start()
            self.on_train_epoch_start()
            outputs = [self.train_step(next(self.dataloader_train)) for _ in range(self.num_iterations_per_epoch)]
            self.on_train_epoch_end(outputs)
            with torch.no_grad():
                self.on_validation_epoch_start()
                val = [self.validation_step(next(self.dataloader_val)) for _ in range(self.num_val_iterations_per_epoch)]
                self.on_validation_epoch_end(val)
            now = time.perf_counter()
            elapsed, pace, last = now - start, now - last, now
            # fit the epochs (and the poly horizon) to what is left of the budget at this epoch's pace
            self.num_epochs = epoch + 1 + max(0, int((self.budget_s - elapsed) / pace))
            self.lr_scheduler.max_steps = self.num_epochs
            self.print_to_log_file(f"budget {self.budget_s:.0f} s, {elapsed:.0f} s spent: {self.num_epochs} epochs")
            while self.save_at and elapsed >= self.save_at[0]:
                self.save_checkpoint(os.path.join(self.output_folder, f"checkpoint_at_{self.save_at.pop(0):g}s.pth"))
            self.on_epoch_end()
            epoch += 1
        self.print_to_log_file(f"stopped after {epoch} epochs, {time.perf_counter() - start:.0f} s")
        self.on_train_end()
