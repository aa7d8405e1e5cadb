"""``rotate``, ``hflip`` and ``vflip`` on tensors, as torchvision defines them.

Images are tensors ``[..., H, W]`` (Topaz passes ``[1, H, W]`` crops, or ``[1, D, H, W]``
for tomograms, in which case every ``H x W`` plane rotates alike). ``rotate`` matches
torchvision's defaults: counter-clockwise as displayed (row 0 at the top), about the
image centre, nearest-neighbour sampling, same output size, fill 0.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def hflip(img: torch.Tensor) -> torch.Tensor:
    """Mirror left-right (reverse the last axis)."""
    return img.flip(-1)


def vflip(img: torch.Tensor) -> torch.Tensor:
    """Mirror top-bottom (reverse the second-last axis)."""
    return img.flip(-2)


def rotate(img: torch.Tensor, angle: float, interpolation: object = None, expand: bool = False,
           center: object = None, fill: float | None = None) -> torch.Tensor:
    """Rotate by ``angle`` degrees counter-clockwise about the centre (same size)."""
    if not isinstance(img, torch.Tensor):
        raise TypeError("this torchvision stand-in rotates tensors only")
    if expand or center is not None:
        raise NotImplementedError("this torchvision stand-in supports expand=False, center=None only")
    mode = "bilinear" if "BILINEAR" in str(interpolation).upper() else "nearest"
    height, width = img.shape[-2:]
    flat = img.reshape(-1, 1, height, width)
    dtype = flat.dtype
    work = flat if dtype.is_floating_point else flat.to(torch.float32)
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    # Output pixel (x, y) (pixel units about the centre, y down) samples the input at the
    # inverse rotation: x_in = cos*x - sin*y, y_in = sin*x + cos*y.
    ys = torch.arange(height, dtype=torch.float64) - (height - 1) / 2
    xs = torch.arange(width, dtype=torch.float64) - (width - 1) / 2
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    x_in = cos * xx - sin * yy
    y_in = sin * xx + cos * yy
    # grid_sample's normalised coordinates with align_corners=False: (p + 0.5) / n * 2 - 1.
    gx = (x_in + (width - 1) / 2 + 0.5) / width * 2 - 1
    gy = (y_in + (height - 1) / 2 + 0.5) / height * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).to(work.dtype).unsqueeze(0).expand(work.shape[0], -1, -1, -1)
    out = F.grid_sample(work, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill:
        mask = F.grid_sample(torch.ones_like(work[:1]), grid[:1], mode=mode, padding_mode="zeros",
                             align_corners=False)
        out = out + (1 - mask) * float(fill if not isinstance(fill, (list, tuple)) else fill[0])
    if not dtype.is_floating_point:
        out = out.round().to(dtype)
    return out.reshape(img.shape)
