"""cryopick.models.vgg: the report's VGG-style CNN, five conv blocks down to 2x2, its channels configurable."""

from __future__ import annotations

import torch
from torch import nn

from cryopick.models import build_model
from cryopick.models.vgg import ReportVGG


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
