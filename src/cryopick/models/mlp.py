"""The report's multi-layer perceptron: 64x64 patch -> 4096 -> 256 -> 256 -> 1.

Section 2.2 of the report: the patch is treated as a 4096-vector, two hidden layers of
256 units, one output. Section 2.4: He (Kaiming) initialisation, dropout before every
fully connected layer, sigmoid output, binary cross-entropy.

The report gives no dropout rates; we use the values of Srivastava et al. (2014), which
it cites: 0.2 on the input (pixels) and 0.5 before the hidden and output layers. The
network returns **logits**; the sigmoid is applied by
:func:`cryopick.pickers.patch.train.predict_proba`, and training uses ``BCEWithLogitsLoss`` (sigmoid and
binary cross-entropy fused, which is numerically stable for large logits). The model is
the same function as the report's sigmoid-output network.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def he_init_(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation of every Linear and Conv2d weight, zero biases.

    Weights are drawn from N(0, 2 / fan_in) (``mode="fan_in"``, ReLU gain), as Keras'
    ``he_normal`` (untruncated) and He et al. (2015) do.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def as_batch(x: torch.Tensor) -> torch.Tensor:
    """Accept patches as (N, H, W) or (N, 1, H, W); return (N, 1, H, W)."""
    if x.dim() == 3:
        return x.unsqueeze(1)
    if x.dim() == 4 and x.shape[1] == 1:
        return x
    raise ValueError(f"expected patches of shape (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}")


class ReportMLP(nn.Module):
    """Dropout -> Linear -> ReLU, twice, then Dropout -> Linear to one logit.

    Parameters
    ----------
    patch_px
        Side of the square input patch (64 in the report: 4096 inputs).
    hidden
        Units per hidden layer (report: two layers of 256).
    input_dropout
        Dropout probability on the input pixels (0.2).
    dropout
        Dropout probability before every later Linear layer (0.5).
    """

    def __init__(self, patch_px: int = 64, hidden: Sequence[int] = (256, 256),
                 input_dropout: float = 0.2, dropout: float = 0.5):
        super().__init__()
        if patch_px < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"bad MLP shape: patch_px={patch_px}, hidden={tuple(hidden)}")
        self.arch: dict[str, Any] = {
            "patch_px": int(patch_px), "hidden": [int(h) for h in hidden],
            "input_dropout": float(input_dropout), "dropout": float(dropout),
        }
        widths = [patch_px * patch_px, *self.arch["hidden"]]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
            layers += [nn.Dropout(input_dropout if i == 0 else dropout), nn.Linear(n_in, n_out), nn.ReLU()]
        layers += [nn.Dropout(dropout), nn.Linear(widths[-1], 1)]
        self.layers = nn.Sequential(*layers)
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patches (N, H, W) or (N, 1, H, W) -> logits (N, 1)."""
        return self.layers(torch.flatten(as_batch(x), start_dim=1))

    def multiply_adds(self) -> int:
        """Multiply-accumulate operations to classify one patch (FLOPs = 2x this)."""
        return sum(layer.in_features * layer.out_features for layer in self.modules() if isinstance(layer, nn.Linear))
