"""Bad network options and too-small volumes are refused before any step, naming the key or the subject
and file (issue 25 defect 24)."""

import pytest
from lightning.pytorch import Trainer

from medseg.data import SegmentationDataModule
from medseg.data.validate import DataError
from medseg.engine.module import SegmentationModule
from medseg.nets import build_network
from tests.data.conftest import small_manifest  # noqa: F401 - the fixture: four 16^3 subjects


@pytest.mark.parametrize("option, value, says", [
    ("features", 0, "options.features must be a positive int, got 0"),
    ("kernel_size", -3, "options.kernel_size must be a positive int, got -3"),
    ("depth", 2.5, "options.depth must be a positive int, got 2.5"),
    ("features", True, "options.features must be a positive int, got True"),
])
def test_issue25_defect24_bad_size_option_is_a_clear_error_at_build_time(option, value, says):
    with pytest.raises(ValueError, match=f"unet: invalid option.*{says}"):
        build_network("unet", 1, 3, **{option: value})


def test_issue25_defect24_bad_fcdensenet_and_quicknat_options():
    with pytest.raises(ValueError, match=r"options.layers must be a non-empty list"):
        build_network("fcdensenet", 1, 3, layers=[4, 0, 4])
    with pytest.raises(ValueError, match=r"options.dropout must be a probability in \[0, 1\), got 1.5"):
        build_network("quicknat", 1, 3, dropout=1.5)
    with pytest.raises(ValueError, match="options.features"):  # through the module, as the YAML builds it
        SegmentationModule(num_classes=3, network={"name": "unet", "options": {"features": 0}})


def test_issue25_defect24_volume_smaller_than_two_to_the_depth_names_subject_and_file(small_manifest, tmp_path):  # noqa: F811
    data = SegmentationDataModule(str(small_manifest), plane="axial")  # 16^3 volumes: axial slices 16 x 16
    model = SegmentationModule(num_classes=2, plane="axial",
                               network={"name": "unet", "options": {"features": 4, "depth": 5, "kernel_size": 3}})
    trainer = Trainer(default_root_dir=tmp_path, max_epochs=1, accelerator="cpu", logger=False,
                      enable_checkpointing=False, enable_progress_bar=False)
    with pytest.raises(DataError) as error:
        trainer.fit(model, data)
    message = str(error.value)
    assert "needs at least 32 (2**depth)" in message and "model.network.options.depth" in message
    for sid in ("s0", "s1", "s2"):  # training + validation subjects, each with its file
        assert f"{tmp_path / f'{sid}_img.nii.gz'}: subject '{sid}': preprocessed size (16, 16, 16)" in message
    assert "'s3'" not in message  # a test subject is not fit's business
    ok = SegmentationModule(num_classes=2, plane="axial",
                            network={"name": "unet", "options": {"features": 4, "depth": 4, "kernel_size": 3}})
    Trainer(default_root_dir=tmp_path, max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
            enable_progress_bar=False, limit_train_batches=1, limit_val_batches=1).fit(ok, data)  # 16 = 2**4 suffices
