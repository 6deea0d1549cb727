"""``medseg.atomic``: figures are written whole or not at all."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from medseg.atomic import save_figure  # noqa: E402


def test_save_figure_writes_a_png_and_no_temp_file(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "sub" / "f.png", dpi=50)
    plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.png"]


def test_a_figure_that_fails_to_render_leaves_the_old_file(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")

    class Broken:  # writes part of a PNG to wherever it is told, then fails
        def savefig(self, target, **kwargs):
            if hasattr(target, "write"):
                target.write(b"\x89PNG partial")
            else:
                Path(target).write_bytes(b"\x89PNG partial")
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        save_figure(Broken(), path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.png"]
