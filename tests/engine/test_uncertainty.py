"""MC-dropout inference: dropout active, mean of the samples, entropy; checked against loops written here."""

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from medseg.engine.inference import predict_volume
from medseg.engine.uncertainty import dropout_active, entropy
from medseg.nets import build_network

K, C = 4, 2


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(C, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Dropout2d(0.5), nn.Conv2d(8, K, 1))
    with torch.no_grad():
        net[1].running_mean.uniform_(-1, 1)
    return net.double().eval()


@pytest.fixture
def image():
    return torch.randn(C, 6, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _axial_samples(net, image, n):
    """n passes over all axial slices at once with dropout in training mode and BN in eval, (n, K, X, Y, Z)."""
    slices = image.movedim(3, 0)  # (Z, C, X, Y)
    net[2].train()
    try:
        with torch.no_grad():
            return torch.stack([net(slices).softmax(1).movedim(0, 3) for _ in range(n)])
    finally:
        net[2].eval()


def test_entropy_matches_scipy():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(K), size=(3, 5)).transpose(2, 0, 1)  # (K, 3, 5)
    p[:, 0, 0] = [1.0, 0.0, 0.0, 0.0]  # 0 log 0 = 0
    np.testing.assert_allclose(entropy(torch.from_numpy(p)).numpy(), scipy.stats.entropy(p, axis=0), rtol=1e-12, atol=1e-15)


def test_mc_dropout_keeps_dropout_active_and_leaves_the_net_in_eval(image):
    net = _net()
    torch.manual_seed(1)
    a = predict_volume(net, image, K, batch_size=64, prob_dtype=torch.float64, mc_samples=1)
    b = predict_volume(net, image, K, batch_size=64, prob_dtype=torch.float64, mc_samples=1)
    assert not torch.allclose(a, b)  # two samples differ
    assert not any(m.training for m in net.modules())
    plain = predict_volume(net, image, K, batch_size=64, prob_dtype=torch.float64)
    torch.testing.assert_close(plain, predict_volume(net, image, K, batch_size=64, prob_dtype=torch.float64))


def test_mc_mean_equals_the_average_of_the_samples(image):
    net = _net()
    torch.manual_seed(5)
    got = predict_volume(net, image, K, batch_size=64, prob_dtype=torch.float64, mc_samples=3)
    torch.manual_seed(5)
    samples = _axial_samples(net, image, 3)
    torch.testing.assert_close(got, samples.mean(0), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(samples[0], samples[1])


def test_aimed_quicknat_samples_differ_and_batchnorm_statistics_stay():
    net = build_network("quicknat", 1, 3, preset="aimed", features=4, kernel_size=3, depth=2).eval()
    stats = [m.running_mean.clone() for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    x = torch.randn(2, 1, 12, 10)
    with torch.no_grad(), dropout_active([net]):
        first, second = net(x), net(x)
    assert not torch.allclose(first, second)
    assert all(torch.equal(s, m.running_mean) for s, m in zip(stats, (m for m in net.modules() if isinstance(m, nn.BatchNorm2d))))
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x))


def test_mc_samples_without_dropout_or_negative_is_an_error(image):
    with pytest.raises(ValueError, match="mc_samples needs a network with dropout.*Conv2d has none"):
        predict_volume(nn.Conv2d(C, K, 1).double(), image, K, mc_samples=2)
    with pytest.raises(ValueError, match="mc_samples must be an int >= 0"):
        predict_volume(_net(), image, K, mc_samples=-1)


@pytest.mark.slow
def test_predict_writes_uncertainty_on_the_input_grid(tmp_path):
    import json

    import nibabel as nib
    import yaml

    from medseg.data.synth import synth
    from medseg.engine.cli import run_lightning_cli

    synth("malc", str(tmp_path / "data"), subjects=3, size=16, validation=0, test=1)
    manifest = json.loads((tmp_path / "data" / "dataset.json").read_text(encoding="utf-8"))
    source = nib.load(tmp_path / "data" / manifest["test"][0]["image"])
    ornt = nib.orientations.axcodes2ornt(("P", "I", "L"))  # a non-canonical voxel order: same anatomy
    odd = source.as_reoriented(nib.orientations.ornt_transform(nib.orientations.io_orientation(source.affine), ornt))
    nib.save(odd, tmp_path / "data" / "odd.nii.gz")
    manifest["test"] = [{"id": "odd", "image": "odd.nii.gz"}]
    (tmp_path / "data" / "predict.json").write_text(json.dumps(manifest), encoding="utf-8")
    config = {
        "trainer": {"default_root_dir": str(tmp_path / "run"), "accelerator": "cpu", "enable_progress_bar": False,
                    "enable_model_summary": False, "logger": False},
        "model": {"network": {"name": "quicknat", "options": {"preset": "aimed", "features": 4, "depth": 2, "kernel_size": 3}},
                  "inference": {"mc_samples": 3, "save_probabilities": True, "prob_dtype": "float32"}},
        "data": {"manifest": str(tmp_path / "data" / "predict.json"), "plane": "axial"},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["predict", "--config", str(tmp_path / "config.yaml")])
    out = tmp_path / "run" / "predictions"
    uncertainty = nib.load(out / "odd_uncertainty.nii.gz")
    assert uncertainty.shape == odd.shape
    np.testing.assert_allclose(uncertainty.affine, odd.affine, atol=1e-6)
    probs = np.asarray(nib.load(out / "odd_probabilities.nii.gz").dataobj, dtype=np.float64)  # (X, Y, Z, K)
    h = np.asarray(uncertainty.dataobj, dtype=np.float64)
    assert h.max() > 0
    np.testing.assert_allclose(h, scipy.stats.entropy(np.clip(probs, 0, None) + 1e-300, axis=-1), atol=1e-4)
