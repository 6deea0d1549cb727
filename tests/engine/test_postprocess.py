"""``model.inference.min_component_voxels``: small connected components become background, checked against
SimpleITK's connected components + relabel-by-size, and applied where validation, test and predict make labels."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import torch

from medseg.engine.config import InferenceConfig, NetworkConfig
from medseg.engine.module import SegmentationModule
from medseg.engine.postprocess import labels_from_probabilities, remove_small_components
from medseg.engine.prediction_output import write_prediction


def _sitk_reference(labels: np.ndarray, min_voxels: int) -> np.ndarray:
    """Per class: fully connected components (ITK), those under ``min_voxels`` relabelled away (ITK)."""
    out = np.zeros_like(labels)
    for value in np.unique(labels[labels > 0]):
        image = sitk.GetImageFromArray((labels == value).astype(np.uint8))
        components = sitk.ConnectedComponent(image, True)
        kept = sitk.RelabelComponent(components, minimumObjectSize=min_voxels)
        out[sitk.GetArrayFromImage(kept) > 0] = value
    return out


@pytest.mark.parametrize("shape", [(24, 20, 16), (40, 36)])
@pytest.mark.parametrize("min_voxels", [2, 5, 30])
def test_matches_simpleitk_connected_components(shape, min_voxels):
    rng = np.random.default_rng(min_voxels)
    labels = rng.choice(4, size=shape, p=[0.7, 0.1, 0.1, 0.1]).astype(np.int64)  # many specks and some blobs
    labels[2:9, 2:9] = 2  # a large component of class 2 beside the specks
    result = remove_small_components(labels, min_voxels)
    np.testing.assert_array_equal(result, _sitk_reference(labels, min_voxels))
    assert (result[labels == 0] == 0).all() and result[2:9, 2:9].min() == 2
    assert (result != labels).any()  # the case is not trivial


def test_corner_neighbours_join_and_off_keeps_everything():
    labels = np.zeros((6, 6, 6), dtype=np.int64)
    labels[1, 1, 1] = labels[2, 2, 2] = 3  # touching at a corner only: one 26-connected component of 2
    labels[4, 4, 4] = 3  # an isolated voxel
    result = remove_small_components(labels, 2)
    assert result[1, 1, 1] == result[2, 2, 2] == 3 and result[4, 4, 4] == 0
    assert remove_small_components(labels, 0) is labels and remove_small_components(labels, 1) is labels


def test_bad_value_is_named():
    with pytest.raises(ValueError, match="model.inference.min_component_voxels must be an integer >= 0"):
        InferenceConfig(min_component_voxels=-3)


def _speck_probabilities():
    """(3, 8, 8, 8) probabilities: class 1 a 4×4×4 block, class 2 one voxel far from it, the rest background."""
    labels = np.zeros((8, 8, 8), dtype=np.int64)
    labels[1:5, 1:5, 1:5] = 1
    labels[7, 7, 7] = 2
    return torch.nn.functional.one_hot(torch.from_numpy(labels), 3).permute(3, 0, 1, 2).float() * 0.8 + 0.1, labels


def test_validation_and_test_labels_and_written_predictions_drop_the_speck(tmp_path, monkeypatch):
    probs, labels = _speck_probabilities()
    assert (labels_from_probabilities(probs) == labels).all()  # off by default: plain argmax
    module = SegmentationModule(NetworkConfig("unet", options={"features": 4, "depth": 2}), num_classes=3,
                                inference=InferenceConfig(min_component_voxels=2))
    monkeypatch.setattr(module, "predict_probabilities", lambda image: probs)
    batch = {"id": ["s1"], "image": torch.zeros(1, 1, 8, 8, 8), "label": torch.from_numpy(labels)[None]}
    _, prediction, _ = module._subject(batch)  # what validation_step and test_step score
    expected = labels.copy()
    expected[7, 7, 7] = 0
    np.testing.assert_array_equal(prediction, expected)
    meta = {"original_affine": np.eye(4), "affine": np.eye(4), "original_shape": (8, 8, 8)}  # same grid
    [path] = write_prediction(tmp_path, "s1", probs, meta, 3, module.inference_config)  # what predict writes
    np.testing.assert_array_equal(np.asarray(nib.load(path).dataobj), expected)
