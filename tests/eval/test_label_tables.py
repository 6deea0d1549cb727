"""Viewer label tables (issue 25 part 1.3), read back by readers written from each format's documentation."""

import re

from medseg.eval import plots
from medseg.eval.label_tables import ITKSNAP_NAME, SLICER_NAME, write_label_tables

NAMES = ["background", "Left-Cerebral-White-Matter", "right lung", 'odd "quoted" name']


def read_itksnap(text):
    """ITK-SNAP label description: '#' comments; ``IDX R G B A VIS MSH "LABEL"`` (R, G, B 0..255, A 0..1)."""
    labels = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r'\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.]+)\s+([01])\s+([01])\s+"([^"]*)"\s*', line)
        assert match, f"not an ITK-SNAP label line: {line!r}"
        idx, r, g, b = (int(v) for v in match.group(1, 2, 3, 4))
        alpha, vis, msh = float(match.group(5)), int(match.group(6)), int(match.group(7))
        assert all(0 <= v <= 255 for v in (r, g, b)) and 0.0 <= alpha <= 1.0
        labels[idx] = ((r, g, b), alpha, vis, msh, match.group(8))
    return labels


def read_slicer(text):
    """Slicer colour table: header starts '# Color table file'; ``index name R G B A``, all 0..255, no spaces."""
    lines = text.splitlines()
    assert lines[0].startswith("# Color table file")
    table = {}
    for line in lines:
        if line.startswith("#"):
            continue
        fields = line.split(" ")
        assert len(fields) == 6, f"not a Slicer colour line: {line!r}"
        index, name, *rgba = fields
        values = [int(v) for v in rgba]
        assert all(0 <= v <= 255 for v in values)
        table[int(index)] = (name, tuple(values[:3]), values[3])
    return table


def figure_rgb(class_id, num_classes):
    """The colour a figure draws class ``class_id`` in, as 0..255 integers."""
    rgba = plots.label_colormap(num_classes)(class_id)
    return tuple(int(round(255 * v)) for v in rgba[:3])


def test_itksnap_and_slicer_tables_carry_the_names_and_figure_colours(tmp_path):
    paths = write_label_tables(tmp_path, NAMES)
    assert [p.name for p in paths] == [ITKSNAP_NAME, SLICER_NAME]
    itk = read_itksnap((tmp_path / ITKSNAP_NAME).read_text(encoding="utf-8"))
    slicer = read_slicer((tmp_path / SLICER_NAME).read_text(encoding="utf-8"))
    assert sorted(itk) == sorted(slicer) == [0, 1, 2, 3]
    assert [itk[i][4] for i in range(4)] == ["background", "Left-Cerebral-White-Matter", "right lung", "odd 'quoted' name"]
    assert [slicer[i][0] for i in range(4)] == ["background", "Left-Cerebral-White-Matter", "right_lung", 'odd_"quoted"_name']
    for c in range(4):
        assert itk[c][0] == slicer[c][1] == figure_rgb(c, len(NAMES))
    assert itk[0][1:4] == (0.0, 0, 0) and slicer[0][2] == 0  # background: transparent and hidden
    assert all(itk[c][1:4] == (1.0, 1, 1) and slicer[c][2] == 255 for c in (1, 2, 3))
    assert len({itk[c][0] for c in range(4)}) == 4  # distinct colours


def test_many_classes_cycle_the_palette_like_the_figures(tmp_path):
    names = [f"c{i}" for i in range(45)]
    write_label_tables(tmp_path, names)
    itk = read_itksnap((tmp_path / ITKSNAP_NAME).read_text(encoding="utf-8"))
    assert [itk[c][0] for c in range(45)] == [figure_rgb(c, 45) for c in range(45)]
    assert itk[38][0] == itk[0][0]  # 38 colours (tab20 without its greys + tab20b), then the cycle restarts
