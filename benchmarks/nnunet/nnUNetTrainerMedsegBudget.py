"""nnU-Net v2 trainer for benchmarks/vs_nnunet.py: the shipped NoMirroring setting (no left-right
mirroring in augmentation or at test time: MALC labels are lateralised) under a wall-clock budget.

Budget ``MEDSEG_NNUNET_BUDGET_S`` seconds (default 900), epochs of ``MEDSEG_NNUNET_ITERS`` iterations
(default 50) and 5 validation iterations. After the first epoch the number of epochs is set to what fits
the budget, and the poly schedule's horizon with it, so the learning rate reaches ~0 when time runs out;
training then stops at the first epoch end past the budget, and the final checkpoint is written as usual.

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
        self.num_iterations_per_epoch = int(os.environ.get("MEDSEG_NNUNET_ITERS", "50"))
        self.num_val_iterations_per_epoch = 5
        self.num_epochs = 1000

    def run_training(self):
        self.on_train_start()
        start = time.perf_counter()
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
            elapsed = time.perf_counter() - start
            if epoch == 0:  # fit the epochs (and the poly horizon) to the budget
                self.num_epochs = max(2, int(self.budget_s / elapsed))
                self.lr_scheduler.max_steps = self.num_epochs
                self.print_to_log_file(f"budget {self.budget_s:.0f} s: {self.num_epochs} epochs of {elapsed:.1f} s")
            if elapsed > self.budget_s:
                self.num_epochs = epoch + 1
            self.on_epoch_end()
            epoch += 1
        self.print_to_log_file(f"stopped after {epoch} epochs, {time.perf_counter() - start:.0f} s")
        self.on_train_end()
