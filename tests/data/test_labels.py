import numpy as np
import pytest

from medseg.data.labels import MALC, MALC33, TABLES, VISCERAL, remap_labels


def test_malc_table_matches_design():
    assert MALC.num_classes == 28 and MALC.names[0] == "background"
    assert MALC.label_map[45] == 1 and MALC.label_map[44] == 3
    assert {MALC.label_map[i] for i in range(101, 208, 2)} == {2}
    assert {MALC.label_map[i] for i in range(100, 208, 2)} == {4}
    assert MALC.label_map[52] == MALC.label_map[50] == 5 and MALC.label_map[51] == MALC.label_map[49] == 18
    assert MALC.label_map[46] == 0  # CSF is explicitly background
    assert sorted(set(MALC.label_map.values())) == list(range(28))


def test_visceral_table_matches_design():
    assert VISCERAL.num_classes == 21
    assert VISCERAL.label_map[58] == 1 and VISCERAL.names[1] == "liver"
    assert VISCERAL.label_map[40358] == 20 and VISCERAL.names[20] == "left_rectus_abdominis"


def test_remap_matches_dictionary_lookup():
    raw = np.random.default_rng(0).choice([0, 2, 45, 101, 102, 999, 46], size=(5, 6, 7))
    mapped = remap_labels(raw, MALC.label_map)
    expected = np.vectorize(lambda r: MALC.label_map.get(int(r), 0))(raw)
    np.testing.assert_array_equal(mapped, expected)


def test_remap_rejects_negative_and_fractional_ids():
    with pytest.raises(ValueError, match="negative"):
        remap_labels(np.array([0, -1]), {1: 1})
    with pytest.raises(ValueError, match="non-integer"):
        remap_labels(np.array([0.5]), {1: 1})


def _quicknat_pytorch_neo_remap(labels):
    """ai-med/quickNAT_pytorch@4e4e97e utils/preprocessor.py remap_labels(labels, 'Neo'), transcribed."""
    labels = labels.copy()
    labels[(labels >= 100) & (labels % 2 == 0)] = 210
    labels[(labels >= 100) & (labels % 2 == 1)] = 211
    label_list = [45, 211, 52, 50, 41, 39, 60, 37, 58, 56, 4, 11, 35, 48, 32, 46, 30, 62, 44, 210, 51, 49, 40, 38,
                  59, 36, 57, 55, 47, 31, 23, 61]
    new_labels = np.zeros_like(labels)
    for i, label in enumerate(label_list):
        new_labels = new_labels + (i + 1) * (labels == label)
    return new_labels


def test_malc33_table_is_the_authors_pytorch_remap():
    assert TABLES["malc33"] is MALC33 and MALC33.num_classes == 33
    raw = np.random.default_rng(1).choice(np.r_[0:100, 100:208], size=(6, 7, 8))
    np.testing.assert_array_equal(remap_labels(raw, MALC33.label_map), _quicknat_pytorch_neo_remap(raw))
    # their settings.ini class names, in order (spelled as the 27-class table spells them)
    assert MALC33.names[4] == "Left-Inf-Lat-Vent" and MALC33.names[16] == "CSF" and MALC33.names[31] == "Right-Accumbens-area"
    assert MALC.label_map[46] == 0 and MALC33.label_map[46] == 16  # CSF: background in the paper's protocol
