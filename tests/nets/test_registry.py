"""build_network presets against hand-counted parameters and the papers' figures; bad input."""

import pytest

from medseg.nets import available_networks, build_network, network_options

from .conftest import conv_params, quicknat_params, scse_params


def count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def unet_params(c_in: int, classes: int, f: int, k: int, depth: int) -> int:
    """Two (conv-BN-ReLU) per block, max-unpool (no weights), 1x1 head."""

    def block(c: int) -> int:
        return conv_params(c, f, k) + 2 * f + conv_params(f, f, k) + 2 * f

    return block(c_in) + (depth - 1) * block(f) + block(f) + depth * block(2 * f) + conv_params(f, classes, 1)


def test_roy2018_unet_has_the_papers_2_1_million_parameters():
    net = build_network("unet", 1, 28, preset="roy2018")
    assert count(net) == unet_params(1, 28, 64, 5, 4)
    assert 2.05e6 <= count(net) <= 2.2e6  # paper: "~2.1 M"


def test_quicknat_preset_matches_the_design_definition():
    assert count(build_network("quicknat", 1, 28)) == quicknat_params(1, 28, 64, 5, 4)
    assert count(build_network("quicknat", 1, 28, spatial_dims=3, features=8, kernel_size=3, depth=2)) == quicknat_params(
        1, 28, 8, 3, 2, dims=3
    )


@pytest.mark.parametrize("name", ["unet", "quicknat"])
def test_scse_everywhere_adds_1_to_2_5_percent(name):
    base = count(build_network(name, 1, 28))
    net = build_network(name, 1, 28, attention={"name": "scse", "reduction": 2})
    added = count(net) - base
    assert added == len(net.attention_sites) * scse_params(64)
    assert 1.0 <= 100 * added / base <= 2.5


@pytest.mark.parametrize("preset, paper, tolerance", [("fcdensenet56", 1.5e6, 0.10), ("fcdensenet67", 3.5e6, 0.02), ("fcdensenet103", 9.4e6, 0.02)])
def test_fcdensenet_presets_match_jegou_table(preset, paper, tolerance):
    # Jegou et al. 2017, Table 2 (CamVid: 3 input channels, 11 classes); 56 comes out 8 % under the paper's 1.5 M
    assert abs(count(build_network("fcdensenet", 3, 11, preset=preset)) - paper) <= tolerance * paper


def test_sdnet_preset_is_one_conv_per_block():
    f, k = 64, 7
    block = lambda c: conv_params(c, f, k) + 2 * f  # noqa: E731
    expected = block(1) + 2 * block(f) + block(f) + 3 * block(2 * f) + conv_params(f, 28, 1)
    assert count(build_network("sdnet", 1, 28)) == expected


def test_unknown_network_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown network 'vnet'; available: unet, quicknat, sdnet, fcdensenet"):
        build_network("vnet", 1, 2)
    assert available_networks() == ["unet", "quicknat", "sdnet", "fcdensenet"]


def test_unknown_preset_and_option_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown preset 'fcdensenet9'.*fcdensenet56"):
        build_network("fcdensenet", 1, 2, preset="fcdensenet9")
    with pytest.raises(ValueError, match="unknown option.*growth.*valid: features, kernel_size, depth"):
        build_network("quicknat", 1, 2, growth=3)
    assert "skip_gate" in network_options("sdnet")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spatial_dims": 4}, "spatial_dims must be 2 or 3, got 4"),
        ({"kernel_size": 4}, "kernel_size must be a positive odd int"),
        ({"depth": 0}, "depth must be a positive int"),
        ({"attention": "nope"}, "attention site 'enc1'.*unknown attention 'nope'"),
        ({"placement": "enc5"}, "unknown site or group 'enc5'.*enc4"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_network("unet", 1, 2, **{"attention": "cse", **kwargs})
