"""A small fully convolutional particle picker: working image (N, 1, H, W) -> logits (N, 1, H, W).

Design (issue 4, "dense detection"):

* **Stride 1 everywhere, or a stride-2 trunk.** With ``stride=1`` the score map has the
  working image's resolution and the network is exactly translation-equivariant. With
  ``stride=2`` the first convolution steps by 2 pixels, the dilated layers run on that
  coarse grid (a quarter of the work), and the output layer gives each coarse cell the
  4 logits of the 2x2 pixels it stands for (a pixel shuffle), so the score map still has
  full resolution. The network is then equivariant to even shifts; tiles start on even
  pixels (:func:`cryopick.pickers.fcn.tiling.predict_tiled`) and so still match the untiled result.
* **Dilated 3x3 convolutions** (dilations 1, 2, 4, 8, ...) after one 5x5 convolution reach
  a receptive field of about 1.5 particle diameters with few parameters (~10k) and few
  operations per pixel. Each dilation is at most ``2 * (sum of the earlier ones) + 1``, so
  the taps cover every offset inside the receptive field (no "gridding" holes).
* **Zero "same" padding in every convolution and nothing global** (no BatchNorm, no
  pooling over the image): an output pixel depends only on the input pixels inside the
  ``receptive_field_px`` square centred on it (zero outside the image, which is the mean of
  a robust-normalised working image). Hence running the network on a tile that carries
  ``margin_px = (receptive_field_px - 1) // 2`` pixels of real context (or the image
  border itself) gives exactly the untiled result on the tile's centre; see
  :func:`cryopick.pickers.fcn.tiling.predict_tiled`.
* He (Kaiming) initialisation, ReLU activations, a 1x1 hidden layer and a 1x1 output
  layer. The network returns **logits**; apply a sigmoid for probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from cryopick.models.mlp import he_init_

DEFAULT_DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 1)  # receptive field 37 px = ~1.5 x 24 px


def dilations_for_receptive_field(target_px: int, first_kernel_px: int = 5) -> tuple[int, ...]:
    """Dilations (1, 2, 4, ... then the remainder) giving a receptive field of at least ``target_px``.

    The receptive field of :class:`ParticleFCN` is ``first_kernel_px + 2 * sum(dilations)``.
    Doubling keeps every offset covered; the last dilation is cut to the remainder so the
    field overshoots the target by at most one pixel (it is always odd).
    """
    if first_kernel_px < 1 or first_kernel_px % 2 == 0:
        raise ValueError(f"first_kernel_px must be odd and positive, got {first_kernel_px}")
    remaining = max(0, math.ceil((int(target_px) - first_kernel_px) / 2))
    dilations: list[int] = []
    step = 1
    while remaining > 0:
        dilation = min(step, remaining)
        dilations.append(dilation)
        remaining -= dilation
        step *= 2
    return tuple(dilations)


class ParticleFCN(nn.Module):
    """Conv5x5 -> ReLU -> [dilated Conv3x3 -> ReLU] x len(dilations) -> Conv1x1 -> ReLU -> Conv1x1.

    With ``stride=2`` the first convolution steps by 2 and the last one gives 4 logits per
    coarse cell, shuffled back to full resolution.

    Parameters
    ----------
    channels
        Feature maps in every convolutional layer (16 is fast on CPU: oneDNN likes multiples of 8).
    dilations
        Dilation of each 3x3 layer. Each must be at most ``2 * sum(earlier) + 1`` (so every
        offset in the receptive field is reached). Default ``(1, 2, 4, 8, 1)``: 37 px.
    first_kernel_px
        Side of the first (undilated) convolution kernel, odd.
    head_channels
        Width of the 1x1 hidden layer before the 1x1 output layer.
    stride
        1, or 2 for a trunk on every other pixel (see the module docstring).

    Attributes
    ----------
    receptive_field_px
        Side of the square of input pixels that influences one output pixel:
        ``first_kernel_px + 2 * stride * sum(dilations)`` (with stride 2, the square of an
        odd row or column sits one pixel before it: the coarse cell's).
    margin_px
        ``(receptive_field_px - 1) // 2``, rounded up to a multiple of the stride: the
        context a tile needs on each side.
    arch
        The keyword arguments that rebuild this network (plain Python values).
    """

    def __init__(self, channels: int = 16, dilations: Sequence[int] = DEFAULT_DILATIONS,
                 first_kernel_px: int = 5, head_channels: int = 16, stride: int = 1):
        super().__init__()
        dilations = [int(d) for d in dilations]
        if channels < 1 or head_channels < 1:
            raise ValueError(f"channels and head_channels must be >= 1, got {channels}, {head_channels}")
        if first_kernel_px < 1 or first_kernel_px % 2 == 0:
            raise ValueError(f"first_kernel_px must be odd and positive, got {first_kernel_px}")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        reach = 0
        for d in dilations:
            if d < 1 or d > 2 * reach + 1:
                raise ValueError(f"dilations {dilations} leave holes in the receptive field: "
                                 f"each must be between 1 and 2 * (sum of the earlier ones) + 1")
            reach += d
        self.arch: dict[str, Any] = {
            "channels": int(channels), "dilations": dilations,
            "first_kernel_px": int(first_kernel_px), "head_channels": int(head_channels),
        }
        if stride != 1:  # files of stride-1 networks keep their old arch
            self.arch["stride"] = int(stride)
        self.stride: int = int(stride)
        self.receptive_field_px: int = int(first_kernel_px) + 2 * stride * reach
        margin = (self.receptive_field_px - 1) // 2
        self.margin_px: int = margin + (-margin) % stride  # a multiple of the stride keeps tiles on the grid
        layers: list[nn.Module] = [nn.Conv2d(1, channels, first_kernel_px, stride=stride,
                                             padding=first_kernel_px // 2), nn.ReLU(inplace=True)]
        for d in dilations:
            layers += [nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(channels, head_channels, 1), nn.ReLU(inplace=True), nn.Conv2d(head_channels, stride * stride, 1)]
        if stride > 1:  # each coarse cell scores the stride x stride pixels it stands for
            layers.append(nn.PixelShuffle(stride))
        self.layers = nn.Sequential(*layers)
        he_init_(self)

    @classmethod
    def for_diameter(cls, diameter_px: float = 24.0, field_per_diameter: float = 1.5,
                     **kwargs: Any) -> ParticleFCN:
        """A network whose receptive field is about ``field_per_diameter`` particle diameters.

        ``diameter_px`` is the particle diameter at the working scale (24 px by default, see
        :class:`cryopick.preprocess.PreprocessConfig`). Other keyword arguments go to the
        constructor.
        """
        if not diameter_px > 0 or not field_per_diameter > 0:
            raise ValueError(f"diameter_px and field_per_diameter must be > 0, got {diameter_px}, {field_per_diameter}")
        first = int(kwargs.get("first_kernel_px", 5))
        stride = int(kwargs.get("stride", 1))
        target = round(diameter_px * field_per_diameter)
        # field = first + 2 * stride * sum(dilations): the stride-1 rule on a coarser grid
        target_at_stride = first + 2 * math.ceil(max(0, target - first) / (2 * stride))
        return cls(dilations=dilations_for_receptive_field(target_at_stride, first), **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, H, W) or (N, H, W), any H, W >= 1 -> logits (N, 1, H, W)."""
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"expected images of shape (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}")
        out = self.layers(x)
        if self.stride > 1:
            out = out[..., : x.shape[-2], : x.shape[-1]]
        return out

    def activation_bytes_per_px(self) -> int:
        """Upper estimate of the float32 memory one input pixel costs during inference.

        The largest layer holds its input, its output and (for CPU convolution paths that
        unfold the input, im2col) ``in_channels * kernel area`` columns at once; plus the
        input image and the output map. Used by :func:`cryopick.pickers.fcn.tiling.predict_tiled` to
        pick a tile size under a memory cap.
        """
        worst, cells_per_px = 0.0, 1.0  # layers after a strided one hold one value per coarse cell
        for layer in self.layers:
            if isinstance(layer, nn.Conv2d):
                kh, kw = layer.kernel_size
                stride = layer.stride[0] * layer.stride[1]
                worst = max(worst, cells_per_px * layer.in_channels * (kh * kw + 1)
                            + cells_per_px / stride * layer.out_channels)
                cells_per_px /= stride
        return 4 * (math.ceil(worst) + 2)

    def multiply_adds_per_px(self) -> int:
        """Multiply-accumulate operations per output pixel (FLOPs = 2x this)."""
        per_cell = sum(layer.weight.numel() for layer in self.layers if isinstance(layer, nn.Conv2d))
        return math.ceil(per_cell / (self.stride * self.stride))
