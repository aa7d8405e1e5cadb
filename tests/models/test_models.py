"""cryopick.models: the registry (build_model, MODEL_KINDS) and what both patch classifiers share: one logit, dropout.

Each network's own shape, size and initialisation: test_mlp.py, test_vgg.py, test_fcn.py.
"""

from __future__ import annotations

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


def test_dropout_comes_before_every_linear_layer():
    for layers in (list(ReportMLP().layers), list(ReportVGG().classifier)):
        linear_at = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
        assert linear_at and all(isinstance(layers[i - 1], nn.Dropout) for i in linear_at)
    mlp_dropouts = [m.p for m in ReportMLP().modules() if isinstance(m, nn.Dropout)]
    assert mlp_dropouts == [0.2, 0.5, 0.5]


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
