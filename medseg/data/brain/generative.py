"""Generative brain images from label maps, after SynthSeg (Billot et al., Medical Image Analysis 86, 2023, §3.1).

The image is drawn from the (harmonised, 1 mm) label map, so the labels determine it exactly: every tissue
group g gets a Gaussian intensity N(μ_g, σ_g²) per voxel, with (μ_g, σ_g) drawn once per subject, then the
volume is low-passed by a Gaussian of the acquisition resolution's FWHM (the partial volume of a thicker
voxel; :func:`medseg.data.brain.generate.make_subject` then samples it trilinearly on the subject's grid and
applies the same bias field, gamma and noise as to the real images). SynthSeg draws μ ~ U(0, 255) and
σ ~ U(0, 35) for every label ("random": contrasts no scanner makes, what makes its networks contrast-agnostic);
"t1" draws them around T1-weighted tissue means (WM > deep GM > cortex > CSF), a prior in the spirit of
SynthSeg's T1 intensity priors. Groups: each of the 27 MALC classes, and each raw id the table maps to
background inside the brain (CSF, vermis, accumbens, ...) on its own; outside the brain (raw 0) stays 0, as in
the skull-stripped templates. Our own code; the paper's equations, not its implementation.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..labels import MALC, remap_labels

IMAGE_MODES = ("real", "generative_t1", "generative_random")  # the template's T1 | labels → image (SynthSeg)

# T1-like mean intensity per class name (scale: WM ≈ 0.8, as the templates' 99th percentile ≈ 1); classes not
# listed (and raw ids mapped to background inside the brain, mostly CSF) take CSF_T1
T1_MEANS = {
    "Cerebral-White-Matter": 0.80, "Cerebral-Cortex": 0.52, "Lateral-Ventricle": 0.15, "Cerebellum-White-Matter": 0.78,
    "Cerebellum-Cortex": 0.55, "Thalamus": 0.68, "Caudate": 0.58, "Putamen": 0.63, "Pallidum": 0.72,
    "3rd-Ventricle": 0.15, "4th-Ventricle": 0.15, "Brain-Stem": 0.72, "Hippocampus": 0.52, "Amygdala": 0.55,
    "VentralDC": 0.70,
}  # fmt: skip
CSF_T1 = 0.20
T1_MEAN_JITTER, T1_STD_RANGE = 0.04, (0.01, 0.04)  # per subject: μ_g + U(±jitter), σ_g ~ U(range)
RANDOM_MEAN_RANGE, RANDOM_STD_RANGE = (0.0, 1.0), (0.0, 35 / 255)  # SynthSeg's U(0, 255), U(0, 35), on [0, 1]


def tissue_groups(raw: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(group index per voxel, group names): 0 = outside the brain; 1..27 the MALC classes; then one group per
    raw id that the table maps to background inside the brain, named ``raw:<id>``."""
    names = list(MALC.names)
    groups = remap_labels(raw, MALC.label_map).astype(np.int64)
    for r in np.unique(raw[(raw > 0) & (groups == 0)]):
        names.append(f"raw:{int(r)}")
        groups[raw == r] = len(names) - 1
    return groups, names


def draw_intensities(names: list[str], contrast: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(μ, σ) per group for one subject; group 0 (outside the brain) is 0, 0."""
    n = len(names)
    if contrast == "random":
        mean, std = rng.uniform(*RANDOM_MEAN_RANGE, n), rng.uniform(*RANDOM_STD_RANGE, n)
    elif contrast == "t1":
        base = np.array([next((v for k, v in T1_MEANS.items() if name.endswith(k)), CSF_T1) for name in names])
        mean, std = base + rng.uniform(-T1_MEAN_JITTER, T1_MEAN_JITTER, n), rng.uniform(*T1_STD_RANGE, n)
    else:
        raise ValueError(f"generative contrast must be 't1' or 'random', got {contrast!r}")
    mean[0] = std[0] = 0.0
    return mean, std


def synthesise(raw: np.ndarray, contrast: str, fwhm_voxels: float, seed: int) -> np.ndarray:
    """The image (float32, same grid as ``raw``) of one subject drawn from the raw label map ``raw``:
    I = G_fwhm * (μ[g(x)] + σ[g(x)] ε(x)), ε ~ N(0, 1) i.i.d., clipped at 0; deterministic by ``seed``."""
    rng = np.random.default_rng([seed, 2023])
    groups, names = tissue_groups(np.asarray(raw, dtype=np.int64))
    mean, std = draw_intensities(names, contrast, rng)
    image = mean[groups] + std[groups] * rng.standard_normal(groups.shape)
    if fwhm_voxels > 0:
        image = ndi.gaussian_filter(image, fwhm_voxels / 2.355)
    return np.clip(image, 0.0, None).astype(np.float32)
