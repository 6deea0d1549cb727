"""Stand-in for ``medseg fit|test --config X.yaml [--ckpt_path P]`` with the same files contract.

fit writes checkpoints/last.ckpt (JSON {"epoch": k}) after each epoch, resuming after the epoch in
--ckpt_path; test writes results/summary.json + dice_per_structure.csv and, like LightningCLI,
config_test.yaml with the tested ckpt_path. Every call is appended to
D/calls.log. fit ends by writing results/training.json (stop_reason max_epochs). FAKE_HANG=<substring>:
the fit of a run whose folder contains it sleeps after epoch 0 (to be killed); FAKE_FAIL=<substring>: it
exits 1 after epoch 0; FAKE_STOP=<substring>: it records stop_reason "terminated" after epoch 0 and exits
0 (what a SIGTERM'd fit did before issue 25 defect 2).
"""

import json
import os
import sys
import time
from pathlib import Path

import yaml


def _training(root: Path, reason: str, epochs: int) -> None:
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / "training.json").write_text(json.dumps({"stop_reason": reason, "epochs": epochs}), encoding="utf-8")


def main(argv: list[str]) -> int:
    stage, args = argv[0], dict(zip(argv[1::2], argv[2::2]))
    config = yaml.safe_load(Path(args["--config"]).read_text(encoding="utf-8"))
    root = Path(config["trainer"]["default_root_dir"])
    with (root / "calls.log").open("a", encoding="utf-8") as f:
        f.write(" ".join(argv) + "\n")
    if stage == "fit":
        start = json.loads(Path(args["--ckpt_path"]).read_text(encoding="utf-8"))["epoch"] + 1 if "--ckpt_path" in args else 0
        (root / "checkpoints").mkdir(exist_ok=True)
        for epoch in range(start, config["trainer"]["max_epochs"]):
            (root / "checkpoints" / "last.ckpt").write_text(json.dumps({"epoch": epoch}), encoding="utf-8")
            if epoch == 0 and os.environ.get("FAKE_HANG", "\0") in str(root):
                time.sleep(60)
            if epoch == 0 and os.environ.get("FAKE_FAIL", "\0") in str(root):
                sys.exit(1)
            if epoch == 0 and os.environ.get("FAKE_STOP", "\0") in str(root):
                _training(root, "terminated", epoch + 1)
                return 0
        _training(root, "max_epochs", config["trainer"]["max_epochs"])
    else:
        assert json.loads(Path(args["--ckpt_path"]).read_text(encoding="utf-8"))["epoch"] == config["trainer"]["max_epochs"] - 1
        (root / "results").mkdir(exist_ok=True)
        (root / "config_test.yaml").write_text(yaml.safe_dump({"ckpt_path": args["--ckpt_path"]}), encoding="utf-8")
        (root / "results" / "dice_per_structure.csv").write_text("subject,structure_id,structure,dice\ns1,1,A,0.5\n", encoding="utf-8")
        net = config["model"]["network"]
        (root / "results" / "summary.json").write_text(json.dumps(
            {"network": net["name"], "attention": net["attention"], "placement": net.get("placement", "all"),
             "dataset": "fake", "mean_dice": 0.5, "num_subjects": 1, "params": 1}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
