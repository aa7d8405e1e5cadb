"""ParticleFCN: shape, exact receptive field, rebuild from arch, init, determinism, speed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from cryopick.models.fcn import (
    DEFAULT_DILATIONS,
    ParticleFCN,
    dilations_for_receptive_field,
)


def _model(seed: int = 0, **kwargs) -> ParticleFCN:
    torch.manual_seed(seed)
    return ParticleFCN(**kwargs).eval()


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(2, 1, 37, 53), (1, 1, 1, 1), (1, 1, 300, 17), (1, 1, 2, 3)])
def test_output_shape_equals_input_shape(shape, stride):
    out = _model(stride=stride)(torch.randn(shape))
    assert out.shape == shape
    assert out.dtype == torch.float32


def test_accepts_three_dimensional_batch_and_rejects_channels():
    model = _model()
    assert model(torch.randn(3, 20, 21)).shape == (3, 1, 20, 21)
    with pytest.raises(ValueError, match="expected images"):
        model(torch.randn(1, 2, 20, 20))


def _influence_box(model: nn.Module, size: int = 101, offset: int = 0) -> tuple[int, int]:
    """Height and width of the bounding box of input pixels with non-zero gradient on the central output."""
    torch.manual_seed(1)
    x = torch.randn(1, 1, size, size, requires_grad=True)
    model(x)[0, 0, size // 2 + offset, size // 2 + offset].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("kwargs", [{}, {"dilations": (1, 2, 4)}, {"dilations": (1, 1, 3), "first_kernel_px": 3},
                                    {"dilations": ()}])
def test_receptive_field_is_exactly_the_declared_one(kwargs):
    model = _model(**kwargs)
    rf = model.receptive_field_px
    assert _influence_box(model) == (rf, rf)
    assert model.margin_px == (rf - 1) // 2


@pytest.mark.parametrize("dilations", [(1, 2, 2), (1, 2, 4, 1), ()])
def test_stride_two_field_holds_for_even_and_odd_pixels_and_the_margin_is_on_the_grid(dilations):
    model = _model(dilations=dilations, stride=2)
    rf = model.receptive_field_px
    assert rf == 5 + 4 * sum(dilations)
    assert _influence_box(model, offset=0) == (rf, rf)
    assert _influence_box(model, offset=1) == (rf, rf)
    assert model.margin_px % 2 == 0 and model.margin_px >= (rf - 1) // 2


def test_stride_two_costs_about_a_quarter():
    full, coarse = ParticleFCN.for_diameter(16), ParticleFCN.for_diameter(16, stride=2)
    assert coarse.receptive_field_px >= round(1.5 * 16)
    assert coarse.multiply_adds_per_px() < 0.25 * full.multiply_adds_per_px()
    with pytest.raises(ValueError, match="stride"):
        ParticleFCN(stride=3)


def test_perturbation_outside_the_field_changes_nothing_inside_changes_the_output():
    model = _model()
    size, m = 81, model.margin_px
    c = size // 2
    torch.manual_seed(2)
    x = torch.randn(1, 1, size, size)
    with torch.inference_mode():
        base = model(x)[0, 0, c, c].item()
        for dy, dx, changes in [(m, 0, True), (0, -m, True), (m + 1, 0, False), (-m - 1, -m - 1, False)]:
            y = x.clone()
            y[0, 0, c + dy, c + dx] += 50.0
            assert (model(y)[0, 0, c, c].item() != base) == changes, (dy, dx)


def test_default_field_is_about_one_and_a_half_working_diameters():
    rf = ParticleFCN().receptive_field_px
    assert 33 <= rf <= 40
    assert tuple(ParticleFCN().arch["dilations"]) == DEFAULT_DILATIONS


@pytest.mark.parametrize("diameter", [12.0, 24.0, 40.0])
def test_for_diameter_targets_the_field(diameter):
    model = ParticleFCN.for_diameter(diameter)
    target = round(1.5 * diameter)
    assert target <= model.receptive_field_px <= target + 1
    assert _influence_box(model, size=2 * model.receptive_field_px + 1)[0] == model.receptive_field_px


def test_dilations_for_receptive_field_are_dense():
    assert dilations_for_receptive_field(36) == (1, 2, 4, 8, 1)
    assert dilations_for_receptive_field(3) == ()
    with pytest.raises(ValueError, match="holes"):
        ParticleFCN(dilations=(1, 4))
    with pytest.raises(ValueError):
        ParticleFCN(first_kernel_px=4)


@pytest.mark.parametrize("stride", [1, 2])
def test_arch_rebuilds_the_same_network(stride):
    model = _model(channels=8, dilations=(1, 2, 3), head_channels=4, stride=stride)
    arch = json.loads(json.dumps(model.arch))  # plain values only
    rebuilt = ParticleFCN(**arch).eval()
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 40, 33)
    with torch.inference_mode():
        assert torch.equal(model(x), rebuilt(x))
    assert rebuilt.receptive_field_px == model.receptive_field_px


def test_no_normalisation_layers_and_kaiming_init():
    model = _model()
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) for m in model.modules())
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        assert torch.count_nonzero(conv.bias) == 0
    conv = convs[1]  # 16 x 16 x 3 x 3
    fan_in = conv.in_channels * 9
    assert conv.weight.std().item() == pytest.approx((2 / fan_in) ** 0.5, rel=0.1)
    assert sum(p.numel() for p in model.parameters()) < 20_000


def test_deterministic():
    x = torch.randn(1, 1, 64, 70)
    a, b = _model(seed=3), _model(seed=3)
    with torch.inference_mode():
        assert torch.equal(a(x), b(x))
        assert torch.equal(a(x), a(x))


def test_a_512_working_image_in_one_pass():
    model = _model()
    x = torch.randn(1, 1, 512, 512)
    with torch.inference_mode():  # its speed: benchmarks/bench_speed.py
        out = model(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
