"""``medseg export RUN --out model.zip`` (issue 25 part 1.2): contents, weights only, and refusal of tampered
packages (bad checksum, other format version, unlisted members, pickled code)."""

import hashlib
import io
import json
import zipfile

import pytest
import torch

import medseg
from medseg.cli import main
from medseg.engine.package import PackageError, read_package

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def package(tiny_run, tmp_path_factory):
    path = tmp_path_factory.mktemp("package") / "model.zip"
    assert main(["export", str(tiny_run), "--out", str(path)]) == 0
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_manifest(members, **changes):
    manifest = json.loads(members["manifest.json"])
    manifest.update(changes)
    return {**members, "manifest.json": json.dumps(manifest).encode()}


def test_package_holds_config_weights_labels_preprocessing_versions_and_checksums(tiny_run, package):
    members = _members(package)
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "medseg-model" and manifest["format_version"] == 1
    assert manifest["medseg_version"] == medseg.__version__ and manifest["torch_version"] == torch.__version__
    assert set(members) == {"manifest.json", *manifest["members"]}
    assert {"config.yaml", "model.json", "labels.json", "preprocessing.json", "weights/model.pt"} <= set(manifest["members"])
    for name, digest in manifest["members"].items():
        assert hashlib.sha256(members[name]).hexdigest() == digest
    assert members["config.yaml"] == (tiny_run / "config.yaml").read_bytes()
    assert json.loads(members["labels.json"]) == {"0": "background", "1": "outer", "2": "inner"}  # the manifest's table
    prep = json.loads(members["preprocessing.json"])
    assert prep["orientation"] == "RAS" and prep["normalize"] == "minmax" and prep["cache_dtype"] == "float32"
    weights = torch.load(io.BytesIO(members["weights/model.pt"]), weights_only=True)  # tensors only: no pickled code
    saved = torch.load(tiny_run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert weights.keys() == saved.keys()
    torch.testing.assert_close(weights, saved, rtol=0, atol=0, equal_nan=True)  # (unused class weights are NaN)
    assert not [p for p in package.parent.iterdir() if p.name != "model.zip"]  # atomic: no temp file left


def test_export_refuses_to_replace_a_package_unless_asked(tiny_run, package):
    before = package.read_bytes()
    with pytest.raises(FileExistsError, match=f"{package} already exists.*--overwrite true"):
        main(["export", str(tiny_run), "--out", str(package)])
    assert package.read_bytes() == before


def test_a_changed_weight_fails_the_checksum_naming_file_and_member(package, tmp_path):
    members = _members(package)
    weights = torch.load(io.BytesIO(members["weights/model.pt"]), weights_only=True)
    first = next(iter(weights))
    weights[first] = weights[first] + 1
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    bad = _write(tmp_path / "tampered.zip", {**members, "weights/model.pt": buffer.getvalue()})
    with pytest.raises(PackageError, match=f"{bad}: refused: member weights/model.pt: sha256 .* does not match"):
        read_package(bad)


def test_another_format_version_is_refused_with_both_versions(package, tmp_path):
    bad = _write(tmp_path / "v2.zip", _with_manifest(_members(package), format_version=2))
    with pytest.raises(PackageError, match=f"{bad}: package format version 2, but this medseg .* reads version 1"):
        read_package(bad)
    foreign = _write(tmp_path / "foreign.zip", _with_manifest(_members(package), format="something-else"))
    with pytest.raises(PackageError, match=f"{foreign}: not a medseg model package"):
        read_package(foreign)


def test_unlisted_missing_and_non_zip_members_are_refused(package, tmp_path):
    members = _members(package)
    extra = _write(tmp_path / "extra.zip", {**members, "weights/coronal.pt": members["weights/model.pt"]})
    with pytest.raises(PackageError, match="member weights/coronal.pt is not listed in manifest.json"):
        read_package(extra)
    missing = _write(tmp_path / "missing.zip", {k: v for k, v in members.items() if k != "labels.json"})
    with pytest.raises(PackageError, match="member labels.json is listed in manifest.json but missing"):
        read_package(missing)
    text = tmp_path / "model.zip"
    text.write_text("not a zip", encoding="utf-8")
    with pytest.raises(PackageError, match=f"{text}: not a medseg model package"):
        main(["predict", "-i", str(text), "-o", str(tmp_path / "o"), "--model", str(text)])


class Payload:
    """Pickles to a call: what weights-only loading must never run."""

    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_pickled_code_with_a_matching_checksum_is_still_refused(package, tmp_path, capsys):
    members = _members(package)
    buffer = io.BytesIO()
    torch.save({"net.x": Payload()}, buffer)
    forged = {**members, "weights/model.pt": buffer.getvalue()}
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["weights/model.pt"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    bad = _write(tmp_path / "forged.zip", {**forged, "manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(PackageError, match=f"{bad}: member weights/model.pt is not a weights-only state dict"):
        read_package(bad)
    assert "pickled code ran" not in capsys.readouterr().out
