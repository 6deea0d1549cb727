import numpy as np
import pytest

from medseg.data.labels import MALC, VISCERAL, remap_labels


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
