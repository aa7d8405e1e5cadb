"""cryopick.models.mlp: the report's MLP (4096 -> 256 -> 256 -> 1), its input shapes and He initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cryopick.models.mlp import ReportMLP
from cryopick.models.vgg import ReportVGG


def test_bad_input_shape_is_refused():
    with pytest.raises(ValueError, match="expected patches"):
        ReportMLP()(torch.rand(2, 3, 64, 64))


def test_mlp_parameter_count_matches_4096_256_256_1():
    model = ReportMLP()
    expected = 4096 * 256 + 256 + 256 * 256 + 256 + 256 + 1
    assert sum(p.numel() for p in model.parameters()) == expected
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4096, 256), (256, 256), (256, 1)]
    assert model.multiply_adds() == 4096 * 256 + 256 * 256 + 256


@pytest.mark.parametrize("layer_of", [
    lambda: next(m for m in ReportMLP().modules() if isinstance(m, nn.Linear)),  # 4096 -> 256
    lambda: [m for m in ReportVGG().features if isinstance(m, nn.Conv2d)][-1],  # 64*9 -> 128
])
def test_he_initialisation(layer_of):
    torch.manual_seed(1)
    layer = layer_of()
    fan_in = layer.weight[0].numel()
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.1)
    assert abs(layer.weight.mean().item()) < 0.1 * math.sqrt(2.0 / fan_in)
    assert torch.count_nonzero(layer.bias) == 0


def test_as_batch_gives_one_channel_either_way():
    from cryopick.models.mlp import as_batch

    x = torch.rand(3, 8, 8)
    assert as_batch(x).shape == (3, 1, 8, 8) and torch.equal(as_batch(x)[:, 0], x)
    assert as_batch(x[:, None]).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"got \(3, 8\)"):
        as_batch(x[:, 0])
