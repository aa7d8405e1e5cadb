"""The 3D fully convolutional network: dilated 3×3×3 convolutions, no pooling, no normalisation.

Every output voxel is the probability that a particle centre is there, from the
``(2 R + 1)³`` voxels around it (``R`` = :attr:`TomoFCN.radius_vox`, the sum of the
dilations: 9 working voxels, 2.6 particle diameters across). Without pooling or
normalisation layers the network is exactly translation-equivariant, so tiled inference
with ``R`` voxels of margin gives the untiled result (:mod:`cryopick.tomo.pick`).
"""

from __future__ import annotations

import torch
from torch import nn

DILATIONS = (1, 2, 3, 2, 1)
CHANNELS = 12


class TomoFCN(nn.Module):
    """Logits ``(n, 1, z, y, x)`` of particle centres from a working-scale volume ``(n, 1, z, y, x)``."""

    def __init__(self, channels: int = CHANNELS, dilations: tuple[int, ...] = DILATIONS) -> None:
        super().__init__()
        self.channels, self.dilations = int(channels), tuple(int(d) for d in dilations)
        layers: list[nn.Module] = []
        width = 1
        for d in self.dilations:
            layers += [nn.Conv3d(width, self.channels, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
            width = self.channels
        layers.append(nn.Conv3d(width, 1, 1))
        self.body = nn.Sequential(*layers)

    @property
    def radius_vox(self) -> int:
        """How far (working voxels) an output voxel sees in each direction."""
        return sum(self.dilations)

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        return self.body(volume)

    def activation_bytes_per_voxel(self) -> int:
        """About the float32 bytes one voxel of a tile costs in inference (two live feature maps and the input)."""
        return 4 * (2 * self.channels + 2)
