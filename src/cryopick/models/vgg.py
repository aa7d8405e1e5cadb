"""The report's VGG-style network: five [3x3 conv -> ReLU -> 2x2 max-pool] blocks, two dense layers.

Section 2.3 of the report: 3x3 convolutions with padding 1, a 2x2 max-pool after every
one or two convolutions, channels doubling, convolutions stop when the image is 2x2,
"five convolution layers and two fully connected layers". With one convolution per
block that is 64 -> 32 -> 16 -> 8 -> 4 -> 2, then flatten -> Dropout -> Linear -> ReLU ->
Dropout -> Linear -> one logit (dropout before every dense layer, section 2.4).

The report gives no channel counts. We default to (8, 16, 32, 64, 128) because every
sliding window of every micrograph is classified, often on a CPU. Compute per 64x64
window (multiply-accumulates, MAC; FLOPs are twice that):

=======  ==========  ========  =============
block    map         channels  MACs
=======  ==========  ========  =============
conv 1   64x64       1 -> 8        294,912
conv 2   32x32       8 -> 16     1,179,648
conv 3   16x16      16 -> 32     1,179,648
conv 4   8x8        32 -> 64     1,179,648
conv 5   4x4        64 -> 128    1,179,648
dense    512 -> 256               131,072
dense    256 -> 1                     256
total                           5,144,832  (about 10.3 MFLOP)
=======  ==========  ========  =============

about 4.6 times the MLP's 1.11 M MACs (:meth:`multiply_adds` computes it for any
configuration). He initialisation for every convolution and dense layer; the output is
a logit (see :mod:`cryopick.models.mlp`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cryopick.models.mlp import as_batch, he_init_


class ReportVGG(nn.Module):
    """Five conv/pool blocks with doubling channels, then two dense layers to one logit.

    Parameters
    ----------
    patch_px
        Side of the square input (64); must be divisible by ``2 ** len(channels)``.
    channels
        Output channels of each 3x3 convolution, one per block (default 8, 16, 32, 64, 128).
    dense
        Units of the hidden dense layer (256).
    dropout
        Dropout probability before each dense layer (0.5).
    """

    cpu_batch = 64
    """Patches per forward pass on a CPU when classifying: the first feature maps of 64
    patches (8 MB) stay in cache, about twice as fast as batches of 1024 (measured)."""

    def __init__(self, patch_px: int = 64, channels: Sequence[int] = (8, 16, 32, 64, 128),
                 dense: int = 256, dropout: float = 0.5):
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 1 or dense < 1 or patch_px % (2 ** len(channels)) != 0:
            raise ValueError(f"bad VGG shape: patch_px={patch_px}, channels={channels}, dense={dense}")
        self.arch: dict[str, Any] = {
            "patch_px": int(patch_px), "channels": channels, "dense": int(dense), "dropout": float(dropout),
        }
        blocks: list[nn.Module] = []
        n_in = 1
        for n_out in channels:
            blocks += [nn.Conv2d(n_in, n_out, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            n_in = n_out
        self.features = nn.Sequential(*blocks)
        self.final_px = patch_px // 2 ** len(channels)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(n_in * self.final_px**2, dense), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(dense, 1),
        )
        he_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Patches (N, H, W) or (N, 1, H, W) -> logits (N, 1)."""
        return self.classifier(self.features(as_batch(x)))

    def multiply_adds(self) -> int:
        """Multiply-accumulate operations to classify one patch (FLOPs = 2x this)."""
        total, side = 0, self.arch["patch_px"]
        for layer in self.features:
            if isinstance(layer, nn.Conv2d):
                total += side * side * layer.in_channels * layer.out_channels * 9
            elif isinstance(layer, nn.MaxPool2d):
                side //= 2
        return total + sum(m.in_features * m.out_features for m in self.classifier if isinstance(m, nn.Linear))
