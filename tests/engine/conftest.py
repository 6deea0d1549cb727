import pytest

from tests.engine.tiny_run import train_tiny_run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run folder trained for three short epochs on NIfTI phantoms (tests.engine.tiny_run), shared by the
    ``medseg predict -i`` and ``medseg export`` tests."""
    return train_tiny_run(tmp_path_factory.mktemp("tiny_run"))
