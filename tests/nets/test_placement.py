import pytest

from medseg.nets import resolve_placement, site_names

SITES = site_names(3)


def test_site_names_in_forward_order():
    assert SITES == ["enc1", "enc2", "enc3", "bottleneck", "dec3", "dec2", "dec1", "classifier"]


@pytest.mark.parametrize(
    "placement, expected",
    [
        ("all", set(SITES)),
        ("encoder", {"enc1", "enc2", "enc3"}),
        ("decoder", {"dec1", "dec2", "dec3"}),
        ("bottleneck", {"bottleneck"}),
        ("dec2", {"dec2"}),
        (["encoder", "classifier"], {"enc1", "enc2", "enc3", "classifier"}),
        (None, set()),
    ],
)
def test_groups_and_lists_select_exactly_their_sites(placement, expected):
    spec = resolve_placement(placement, "scse", SITES)
    assert list(spec) == SITES
    assert {s for s, v in spec.items() if v is not None} == expected
    assert all(v == "scse" for s, v in spec.items() if s in expected)


def test_dict_gives_per_site_types_and_site_keys_override_groups():
    spec = resolve_placement({"enc2": "sse", "encoder": "cse", "bottleneck": {"name": "scse"}}, "ignored", SITES)
    assert spec["enc1"] == spec["enc3"] == "cse"
    assert spec["enc2"] == "sse"
    assert spec["bottleneck"] == {"name": "scse"}
    assert all(spec[s] is None for s in ("dec1", "dec2", "dec3", "classifier"))


@pytest.mark.parametrize("placement", ["enc4", ["enc1", "middle"], {"dec9": "cse"}])
def test_unknown_site_lists_valid_sites_and_groups(placement):
    with pytest.raises(ValueError) as err:
        resolve_placement(placement, "cse", SITES)
    message = str(err.value)
    assert "unknown site" in message and "enc3" in message and "bottleneck" in message and "decoder" in message
