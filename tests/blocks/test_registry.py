"""Properties every registered block must have, in 2D and 3D: shapes, gradients, bf16 autocast,
channels_last, attention maps, and clear errors for bad names and inputs."""

from __future__ import annotations

import pytest
import torch

from medseg.blocks import attention_group, available_attention, build_attention

from .helpers import DIMS, SPATIAL, assert_gradients_match_finite_differences, block, randomise, sample

NAMES = ["none", "se", "cse", "sse", "scse", "cbam", "bam", "eca", "pam", "cam", "danet", "psa", "ema", "fpa", "psanet", "encnet", "danet_head"]
C = 16


def test_registry_holds_exactly_the_designed_names():
    assert sorted(available_attention()) == sorted(NAMES)
    assert set(available_attention("self-attention")) == {"pam", "cam", "danet", "ema", "psanet", "danet_head"}
    assert attention_group("none") == "identity"


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", NAMES)
def test_shape_and_out_channels(name, dims):
    b = build_attention(name, C, dims)
    assert b.out_channels == C
    y = b(torch.randn(2, C, *SPATIAL[dims]))
    assert y.shape == (2, b.out_channels, *SPATIAL[dims])


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", [n for n in NAMES if n != "none"])
def test_gradients_reach_every_parameter_and_the_input(name, dims):
    """In training mode, float64: every parameter and the input get a gradient, equal to finite
    differences (no ``> 0``: with BAM's width-1 bottleneck some biases have exactly zero gradient).
    EMA's bases are stop-gradient by design, so what feeds them is only checked to be reached."""
    b = randomise(build_attention(name, C, dims)).double().train()
    stop = ("conv_in.weight", "conv_in.bias", "input 0") if name == "ema" else ()
    assert_gradients_match_finite_differences(b, (sample(C, dims),), stop)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", NAMES)
def test_cpu_bf16_autocast_is_close_to_float32(name, dims):
    b = randomise(build_attention(name, C, dims)).float().eval()
    x = torch.randn(2, C, *SPATIAL[dims])
    reference = b(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = b(x)
    assert y.shape == reference.shape and torch.isfinite(y).all()
    scale = reference.abs().max().item() + 1.0
    assert (y.float() - reference).abs().max().item() < 0.05 * scale


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", NAMES)
def test_channels_last_input_gives_the_same_output(name, dims):
    b = block(name, C, dims)
    x = sample(C, dims)
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    y = b(x.to(memory_format=fmt))
    torch.testing.assert_close(y, b(x), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", [n for n in NAMES if n != "none"])
def test_attention_maps_are_kept_only_on_request(name, dims):
    b = block(name, C, dims)
    x = sample(C, dims)
    b(x)
    assert b.attention_map is None
    b.keep_attention = True
    b(x)
    maps = b.attention_map if isinstance(b.attention_map, dict) else {"map": b.attention_map}
    assert maps
    for m in maps.values():
        assert isinstance(m, torch.Tensor) and not m.requires_grad and m.shape[0] == 2 and torch.isfinite(m).all()


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown attention 'sqex'") as err:
        build_attention("sqex", C)
    assert all(n in str(err.value) for n in NAMES)


def test_dict_spec_and_none_are_accepted():
    b = build_attention({"name": "scse", "aggregation": "concat"}, C, 3)
    assert b.out_channels == 2 * C and b.spatial_dims == 3
    assert type(build_attention(None, C)).__name__ == "NoAttention"


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", NAMES)
def test_channel_mismatch_names_the_block_expected_and_actual(name, dims):
    b = build_attention(name, C, dims)
    with pytest.raises(ValueError) as err:
        b(torch.randn(2, C - 4, *SPATIAL[dims]))
    msg = str(err.value)
    assert type(b).__name__ in msg and f"expected {C} channels" in msg and f"got {C - 4}" in msg


@pytest.mark.parametrize("name", NAMES)
def test_wrong_rank_input_fails_clearly(name):
    with pytest.raises(ValueError, match="expected a 5D input"):
        build_attention(name, C, 3)(torch.randn(2, C, 4, 4))


@pytest.mark.parametrize(
    "name, block_name",
    [("se", "SE"), ("cse", "CSE"), ("scse", "SCSE"), ("cbam", "CBAM"), ("bam", "BAM"), ("pam", "PAM"), ("danet", "DANet")],
)
def test_reduction_larger_than_channels_fails_at_build(name, block_name):
    with pytest.raises(ValueError) as err:
        build_attention(name, 8, 2, reduction=16)
    msg = str(err.value)
    assert "at most the number of channels (8)" in msg and "reduction=16" in msg
    assert msg.startswith(f"{block_name}: ")


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_reduction_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="reduction must be a positive int"):
        build_attention("cse", 8, reduction=bad)


def test_build_rejects_bad_spatial_dims_and_channels():
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3, got 1"):
        build_attention("cse", 8, 1)
    with pytest.raises(ValueError, match="channels must be a positive int, got 0"):
        build_attention("cse", 0)


def test_canonical_attention_drops_exactly_the_default_options():
    import inspect

    from medseg.blocks import canonical_attention
    from medseg.blocks.scse import SCSE

    defaults = {k: p.default for k, p in inspect.signature(SCSE).parameters.items()}
    assert defaults["aggregation"] == "add" and defaults["bias"] is True  # the facts the cases below rely on
    assert canonical_attention({"name": "scse", "aggregation": "add", "bias": True}) == "scse"
    assert canonical_attention({"name": "SCSE", "reduction": 2}) == "scse"  # None -> SCSE.default_reduction (2)
    assert canonical_attention({"name": "scse", "aggregation": "max", "reduction": 4}) == \
        {"name": "scse", "aggregation": "max", "reduction": 4}
    assert canonical_attention({"name": "se", "reduction": 2}) == {"name": "se", "reduction": 2}  # SE's is 16
    assert canonical_attention({"name": "se", "reduction": 16}) == "se"
    assert canonical_attention("CSE") == "cse" and canonical_attention(None) is None
    with pytest.raises(ValueError, match="unknown attention 'nope'"):
        canonical_attention({"name": "nope"})
    with pytest.raises(ValueError, match="no 'name'"):
        canonical_attention({"aggregation": "max"})
