"""Volume inference against naive per-slice / whole-volume loops written independently here."""

import pytest
import torch
from torch import nn

from medseg.engine.inference import predict_volume

K, C = 4, 2
AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}  # DESIGN: plane -> sliced axis of the RAS volume


def _net2d(seed):
    """float64, like the image: batched and single-slice convolutions run different kernels, whose float32
    rounding differs by more than a fixed tolerance on some CPUs; in float64 it is ~1e-16."""
    torch.manual_seed(seed)
    return nn.Conv2d(C, K, 3, padding=1).double().eval()


def _naive_slices(net, image, plane):
    """softmax(net(slice)) one slice at a time, stacked back along the plane's axis."""
    axis = AXIS[plane]
    outs = []
    with torch.no_grad():
        for i in range(image.shape[axis + 1]):
            s = image.select(axis + 1, i)[None]  # (1, C, a, b)
            outs.append(net(s).softmax(1)[0])
    return torch.stack(outs, dim=axis + 1)


@pytest.fixture
def image():
    return torch.randn(C, 7, 6, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_slicewise_batches_equal_one_slice_at_a_time(image, plane):
    net = _net2d(1)
    probs = predict_volume(net, image, K, plane=plane, batch_size=3, prob_dtype=torch.float64)
    torch.testing.assert_close(probs, _naive_slices(net, image, plane), atol=1e-12, rtol=0)


def test_three_view_fusion_uses_quicknat_weights(image):
    nets = {p: _net2d(i) for i, p in enumerate(["axial", "coronal", "sagittal"])}
    fused = predict_volume(nets, image, K, batch_size=4, prob_dtype=torch.float64)
    expected = sum(w * _naive_slices(nets[p], image, p) for p, w in [("axial", 0.4), ("coronal", 0.4), ("sagittal", 0.2)])
    torch.testing.assert_close(fused, expected, atol=1e-12, rtol=0)
    half = predict_volume(nets, image, K, batch_size=4)  # default float16 accumulator
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.double(), expected, atol=2e-3, rtol=0)  # 3 float16 roundings ≤ 1.5e-3
    two = predict_volume({"axial": nets["axial"], "sagittal": nets["sagittal"]}, image, K, prob_dtype=torch.float64)
    torch.testing.assert_close(
        two, (0.4 * _naive_slices(nets["axial"], image, "axial") + 0.2 * _naive_slices(nets["sagittal"], image, "sagittal")) / 0.6,
        atol=1e-12, rtol=0,
    )


def test_sliding_window_3d_whole_volume_and_patches(image):
    torch.manual_seed(3)
    net = nn.Conv3d(C, K, 1).double().eval()  # pointwise: patches must reproduce the whole-volume result
    with torch.no_grad():
        expected = net(image[None]).softmax(1)[0]
    whole = predict_volume(net, image, K, spatial_dims=3, prob_dtype=torch.float64)
    patches = predict_volume(net, image, K, spatial_dims=3, roi_size=(4, 4, 4), overlap=0.5, prob_dtype=torch.float64)
    torch.testing.assert_close(whole, expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(patches, expected, atol=1e-12, rtol=0)


def test_bad_arguments(image):
    with pytest.raises(ValueError, match="unknown plane 'oblique'"):
        predict_volume(_net2d(0), image, K, plane="oblique")
    with pytest.raises(ValueError, match="no fusion weight.*oblique"):
        predict_volume({"axial": _net2d(0), "oblique": _net2d(1)}, image, K)
    with pytest.raises(ValueError, match=r"\(C, X, Y, Z\)"):
        predict_volume(_net2d(0), image[None], K)
