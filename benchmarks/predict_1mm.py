"""``medseg predict`` with three views on a 1 mm 256³ brain, QuickNAT at the paper's 64 features (issue 24).

What it times is the command a user runs, end to end: ``medseg predict -i brain.nii.gz -o OUT --model D``, where
``D`` is a coronal QuickNAT (64 features, kernel 5, 4 levels, no attention: the authors' layout) whose
``model.inference.views`` fuse an axial and a sagittal one (QuickNAT's view aggregation). Wall time and the
predicting process's peak RSS (``ru_maxrss``, in a fresh interpreter) are printed, beside the authors' figure:
about 20 s per volume on a Titan X GPU (Roy et al., NeuroImage 2019, QuickNAT). The weights do not matter for
time or memory, so each view is ``medseg fit`` for one step on realistic 1 mm brains; the input is one held-out
1 mm brain zero-padded to 256³ (the MALC/FreeSurfer conformed grid).

    .venv/bin/python benchmarks/predict_1mm.py --work runs/predict_1mm          # a quiet machine; ~10 min
    .venv/bin/python benchmarks/predict_1mm.py --quick true                     # the suite's smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PLANES = ("axial", "sagittal", "coronal")  # the coronal run is the one predicted with, the others its views
MEASURE = """
import resource, sys, time
from medseg.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print("MEASURED", time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
sys.exit(code)
"""


def padded(image: Path, out: Path, size: int) -> Path:
    """``image`` zero-padded (centred) to ``size``³ voxels, the affine shifted so the brain keeps its place."""
    volume = nib.load(str(image))
    data = np.asarray(volume.dataobj, dtype=np.float32)
    if any(n > size for n in data.shape):
        raise SystemExit(f"{image}: shape {data.shape} does not fit in {size}^3")
    before = [(size - n) // 2 for n in data.shape]
    grid = np.zeros((size,) * 3, np.float32)
    grid[tuple(slice(b, b + n) for b, n in zip(before, data.shape))] = data
    affine = volume.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.asarray(before, dtype=float)
    nib.save(nib.Nifti1Image(grid, affine), str(out))
    return out


def fit_view(plane: str, manifest: Path, run_dir: Path, features: int, views: dict[str, str] | None) -> None:
    options = json.dumps({"features": features, "kernel_size": 5, "depth": 4})
    command = [sys.executable, "-m", "medseg.cli", "fit", "--config", str(ROOT / "experiments" / "demo.yaml"),
               "--data.manifest", str(manifest), "--data.plane", plane, "--model.network.attention", "none",
               "--model.network.options", options, "--trainer.default_root_dir", str(run_dir), "--trainer.max_steps", "1",
               "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false"]  # fmt: skip
    if views:
        command += ["--model.inference.views", json.dumps(views)]
    with open(run_dir.parent / f"fit_{plane}.log", "w") as log:
        if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
            raise SystemExit(f"medseg fit ({plane}) failed; see {log.name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "predict_1mm")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--quick", type=lambda s: s.lower() == "true", default=False)
    a = p.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    data = a.work / "data"
    if a.quick:  # 24^3 phantoms, 4 features, a 32^3 grid
        a.features, a.size = 4, 32
        synth = ["--kind", "malc", "--size", "24"]
    else:
        synth = ["--kind", "brain", "--resolution", "1"]
    if not (data / "dataset.json").is_file():
        subprocess.run([sys.executable, "-m", "medseg.cli", "synth", *synth, "--out", str(data), "--subjects", "3",
                        "--validation", "1", "--test", "1", "--seed", "0"], check=True)  # fmt: skip
    manifest = data / "dataset.json"
    runs = {plane: a.work / "runs" / plane for plane in PLANES}
    for plane in PLANES:
        if not (runs[plane] / "checkpoints" / "last.ckpt").is_file():
            runs[plane].mkdir(parents=True, exist_ok=True)
            views = None if plane != "coronal" else {v: str(runs[v] / "checkpoints" / "last.ckpt") for v in ("axial", "sagittal")}
            fit_view(plane, manifest, runs[plane], a.features, views)
    test = json.loads(manifest.read_text())["test"][0]
    image = padded(data / test["image"], a.work / f"brain{a.size}.nii.gz", a.size)
    out = a.work / "predicted"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, "predict", "-i", str(image), "-o", str(out), "--model",
                           str(runs["coronal"]), "--device", "cpu"], capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"medseg predict failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    measured = next(line for line in done.stdout.splitlines() if line.startswith("MEASURED")).split()
    seconds, peak_gib = float(measured[1]), int(measured[2]) / 2**20
    labels = nib.load(str(out / image.name))
    assert labels.shape == (a.size,) * 3, labels.shape
    result = {"size": a.size, "features": a.features, "views": 3, "predict_s": seconds, "process_wall_s": wall,
              "peak_rss_gib": peak_gib}  # fmt: skip
    (a.work / "predict_1mm.json").write_text(json.dumps(result, indent=1))
    print(f"| medseg predict, 3 views, QuickNAT {a.features} features, {a.size}^3 at 1 mm, 2 CPU cores | {seconds:.0f} s "
          f"(process {wall:.0f} s) | peak RSS {peak_gib:.2f} GiB | authors: ~20 s per volume on a Titan X GPU |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
