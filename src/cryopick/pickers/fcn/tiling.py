"""Run a fully convolutional network over a large image in overlapping tiles, exactly.

A stride-1, translation-equivariant network whose every output pixel depends only on the
input inside a square of side ``receptive_field_px`` around it (such as
:class:`cryopick.models.fcn.ParticleFCN`, whose convolutions pad with zeros layer by
layer) gives the same value for a pixel whether it sees the whole image or a tile that
holds at least ``margin_px = (receptive_field_px - 1) // 2`` pixels of real context on
every side. Where a tile touches the image border it gets no extra context: it is padded
by the network itself, layer by layer, exactly as the untiled call pads the whole image.
So :func:`predict_tiled` cuts the image into square cores of ``tile_px``, runs each core
with its margin, keeps the core and stitches: the result equals the untiled call up to
floating-point rounding (checked in the tests to 1e-5).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cryopick.device import thread_invariant_map
from cryopick.errors import CryopickError

DEFAULT_MEMORY_CAP_BYTES = 512 * 2**20
"""Activation memory allowed for one tile when no cap is given."""

DEFAULT_TILE_PX = 256
"""Tile core side when ``tile_px`` is not given. Faster than one pass on CPU because a
tile's activations stay in cache: a 1024x1024 image with :class:`ParticleFCN` on 2 cores
takes ~0.25 s in 256 px tiles against ~0.85 s in one pass (192 px: 0.29 s, 512 px: 1.4 s)."""


GPU_MEMORY_CAP_BYTES = 4 * 2**30
"""Activation memory one tile may use on a GPU when no cap is given. A fixed figure, not a
share of the free memory, so that the tiling (and so the last bits of every score) is the
same on every run whatever else the GPU holds; a working-scale micrograph usually fits in
one pass under it."""


def default_memory_cap(device: str | torch.device = "cpu") -> int:
    """Memory one tile may use: :data:`DEFAULT_MEMORY_CAP_BYTES` on the CPU, :data:`GPU_MEMORY_CAP_BYTES` on a GPU.

    On a GPU the tiles are as large as that allows (no :data:`DEFAULT_TILE_PX` cut), so a
    working-scale micrograph usually runs in one pass that fills the device, instead of
    many small tiles that leave it idle between kernel launches. Neither figure reads the
    machine's state: the same settings cut the same tiles everywhere.
    """
    return GPU_MEMORY_CAP_BYTES if torch.device(device).type == "cuda" else DEFAULT_MEMORY_CAP_BYTES


def bytes_per_px(model: nn.Module) -> int:
    """Estimated inference memory per input pixel of ``model``, in bytes.

    Uses ``model.activation_bytes_per_px()`` when the model has it; otherwise a
    conservative guess from its convolutions: the widest layer's im2col columns
    (``in_channels * kernel area``) plus its input and output, in float32.
    """
    estimate = getattr(model, "activation_bytes_per_px", None)
    if callable(estimate):
        return int(estimate())
    worst = 1
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            worst = max(worst, layer.in_channels * (kh * kw + 1) + layer.out_channels)
    return 4 * (worst + 2)


def tile_size(model: nn.Module, margin_px: int, memory_cap_bytes: int) -> int:
    """Largest square core side whose tile (core plus ``margin_px`` each side) fits the cap.

    Raises
    ------
    CryopickError
        When not even a one-pixel core with its margins fits under ``memory_cap_bytes``.
    """
    per_px = bytes_per_px(model)
    side = math.isqrt(max(0, int(memory_cap_bytes)) // per_px)
    core = side - 2 * margin_px
    if core < 1:
        need = (1 + 2 * margin_px) ** 2 * per_px
        raise CryopickError(f"memory cap of {memory_cap_bytes} bytes is too small for one tile "
                            f"({need} bytes at least with a {margin_px} px margin)",
                            fix="raise the memory cap")
    return core


def predict_tiled(model: nn.Module, image: np.ndarray, *, margin_px: int | None = None,
                  tile_px: int | None = None, memory_cap_bytes: int | None = None,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """The model's score map (**logits**, float32, shape of ``image``) computed tile by tile.

    Parameters
    ----------
    model
        Stride-1 fully convolutional network: (N, 1, h, w) -> (N, 1, h, w), already on
        ``device``. It is put in eval mode for the call and its mode restored afterwards.
    image
        Working image (H, W), e.g. ``cryopick.preprocess.preprocess(...)``'s image.
    margin_px
        Context kept around each tile core; must be at least the model's receptive-field
        radius ``(receptive_field_px - 1) // 2`` for an exact result. ``None``: the model's
        ``margin_px`` attribute.
    tile_px
        Side of the square tile core (output pixels kept per tile); default on the CPU
        :data:`DEFAULT_TILE_PX` (cache-friendly), on a GPU whatever the memory cap allows.
        An image no larger than one core runs in one pass.
    memory_cap_bytes
        Memory allowed for one tile: (core + 2 * margin)^2 times :func:`bytes_per_px`; the
        core is cut to the largest side that fits (default :func:`default_memory_cap`:
        512 MiB on the CPU, 4 GiB on a GPU). The smaller of this and
        ``tile_px`` wins.
    device
        Where the tiles are computed.

    Returns
    -------
    numpy.ndarray
        Logits (H, W), float32; ``1 / (1 + exp(-logits))`` are the probabilities.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        raise ValueError(f"expected a non-empty 2D image, got shape {image.shape}")
    if margin_px is None:
        if not hasattr(model, "margin_px"):
            raise ValueError("margin_px not given and the model has no margin_px attribute")
        margin_px = int(model.margin_px)  # type: ignore[arg-type]
    if margin_px < 0:
        raise ValueError(f"margin_px must be >= 0, got {margin_px}")
    stride = int(getattr(model, "stride", 1))  # coarse cells must fall on the same grid in every tile
    if margin_px % stride:
        raise ValueError(f"margin_px must be a multiple of the model's stride {stride}, got {margin_px}")
    if tile_px is not None and tile_px < 1:
        raise ValueError(f"tile_px must be >= 1, got {tile_px}")
    height, width = image.shape
    on_gpu = torch.device(device).type == "cuda"
    cap = default_memory_cap(device) if memory_cap_bytes is None else memory_cap_bytes
    if tile_px is None and not on_gpu:
        tile_px = DEFAULT_TILE_PX
    core = tile_size(model, margin_px, cap) if tile_px is None else min(tile_size(model, margin_px, cap), int(tile_px))
    source = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    out = np.empty((height, width), dtype=np.float32)
    core_y, core_x = (max(stride, _balanced(n, core) // stride * stride) for n in (height, width))
    tiles = [(y0, min(y0 + core_y, height), x0, min(x0 + core_x, width))
             for y0 in range(0, height, core_y) for x0 in range(0, width, core_x)]

    def run(bounds: tuple[int, int, int, int]) -> np.ndarray:
        y0, y1, x0, x1 = bounds
        ya, yb = max(0, y0 - margin_px), min(height, y1 + margin_px)
        xa, xb = max(0, x0 - margin_px), min(width, x1 + margin_px)
        tile = source[ya:yb, xa:xb].to(device)[None, None]
        return model(tile)[0, 0, y0 - ya:y1 - ya, x0 - xa:x1 - xa].float().cpu().numpy()

    was_training = model.training
    model.eval()
    try:
        for (y0, y1, x0, x1), scores in zip(tiles, thread_invariant_map(run, tiles, device)):
            out[y0:y1, x0:x1] = scores
    finally:
        model.train(was_training)
    return out


def _balanced(length: int, core: int) -> int:
    """The core side that cuts ``length`` into as few tiles as ``core`` does, all nearly equal.

    A 291 px image in 256 px cores would be one full tile and a 35 px sliver that still
    pays for its full margins; two cores of 146 px cost less.
    """
    n_tiles = max(1, math.ceil(length / core))
    return math.ceil(length / n_tiles)
