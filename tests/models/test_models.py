"""The report's MLP and VGG-style CNN: shapes, sizes, initialisation, dropout, registry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from cryopick.errors import CryopickError
from cryopick.models import MODEL_KINDS, ReportMLP, ReportVGG, build_model


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("shape", [(5, 64, 64), (5, 1, 64, 64)])
def test_output_is_one_logit_per_patch(kind, shape):
    torch.manual_seed(0)
    model = build_model(kind).eval()
    out = model(torch.rand(shape))
    assert out.shape == (5, 1)
    assert torch.isfinite(out).all()


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


def test_dropout_comes_before_every_linear_layer():
    for layers in (list(ReportMLP().layers), list(ReportVGG().classifier)):
        linear_at = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
        assert linear_at and all(isinstance(layers[i - 1], nn.Dropout) for i in linear_at)
    mlp_dropouts = [m.p for m in ReportMLP().modules() if isinstance(m, nn.Dropout)]
    assert mlp_dropouts == [0.2, 0.5, 0.5]


def test_vgg_has_five_conv_blocks_down_to_2x2():
    model = ReportVGG()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 16, 32, 64, 128]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert len([m for m in model.modules() if isinstance(m, nn.Linear)]) == 2
    features = model.features(torch.rand(3, 1, 64, 64))
    assert features.shape == (3, 128, 2, 2)
    expected = (64 * 64 * 1 * 8 + 32 * 32 * 8 * 16 + 16 * 16 * 16 * 32 + 8 * 8 * 32 * 64 + 4 * 4 * 64 * 128) * 9
    assert model.multiply_adds() == expected + 512 * 256 + 256


def test_vgg_channels_are_configurable():
    model = build_model("cnn", channels=(4, 8, 16, 32, 64), dense=32)
    assert model.features(torch.rand(2, 1, 64, 64)).shape == (2, 64, 2, 2)
    assert model(torch.rand(2, 64, 64)).shape == (2, 1)
    assert model.arch == {"patch_px": 64, "channels": [4, 8, 16, 32, 64], "dense": 32, "dropout": 0.5}


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


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_dropout_active_in_train_mode_only(kind):
    torch.manual_seed(0)
    model = build_model(kind)
    x = torch.rand(4, 64, 64)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_registry_and_errors():
    assert set(MODEL_KINDS) == {"fcn", "mlp", "cnn"}
    assert isinstance(build_model("mlp"), ReportMLP)
    assert isinstance(build_model("cnn"), ReportVGG)
    with pytest.raises(CryopickError, match="unknown model kind 'resnet'.*mlp, cnn"):
        build_model("resnet")
    with pytest.raises(CryopickError, match="bad architecture options"):
        build_model("mlp", depth=3)
    with pytest.raises(CryopickError, match="bad architecture options"):
        build_model("cnn", patch_px=48)  # 48 is not divisible by 2**5
