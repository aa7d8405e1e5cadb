"""Region masks: which parts of a micrograph are background, or too uncertain to learn from.

A mask is an image of the micrograph's shape (MRC, TIFF, PNG or JPG) whose non-zero
pixels mark the region; it is found in a folder by the micrograph's name
(``<folder>/<name>.<any image suffix>``, or ``<name>_mask.<suffix>``). A mask of another
shape, one that cannot be read, or a folder that matches no micrograph gives one clear
error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.io.micrographs import read_micrograph
from cryopick.io.names import IMAGE_SUFFIXES

__all__ = ["check_mask_folder", "find_mask", "read_mask", "resize_mask"]


def check_mask_folder(folder: str | Path) -> Path:
    """``folder`` as a Path; a one-line error when it is not an existing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CryopickError("mask folder not found", path=folder, fix="give a folder of mask images named like the "
                            "micrographs")
    return folder


def find_mask(folder: str | Path, name: str) -> Path | None:
    """The mask file for micrograph ``name`` in ``folder``, or None when there is none."""
    folder = check_mask_folder(folder)
    stems = (name, f"{name}_mask", f"{name}.mask")
    found: dict[tuple[int, int], Path] = {}
    for entry in folder.iterdir():
        suffix = entry.suffix.lower()
        stem = entry.name[: len(entry.name) - len(entry.suffix)]
        if stem in stems and suffix in IMAGE_SUFFIXES and entry.is_file():
            found[(stems.index(stem), IMAGE_SUFFIXES.index(suffix))] = entry
    return found[min(found)] if found else None


def read_mask(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a mask (non-zero = inside) and check it has the micrograph's ``shape`` (rows, columns)."""
    data = read_micrograph(path, apix=1.0, allow_nonfinite=True).data
    if data.shape != tuple(shape):
        raise CryopickError(f"mask is {data.shape[1]}x{data.shape[0]} px but its micrograph is "
                            f"{shape[1]}x{shape[0]} px", path=path,
                            fix="make the mask at the micrograph's own size")
    return np.asarray(data) != 0


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A boolean mask brought to another ``shape``: a pixel is inside when at least half its area is."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape == tuple(shape):
        return mask.copy()
    zoom = (shape[0] / mask.shape[0], shape[1] / mask.shape[1])
    area = mask.astype(np.float32)
    if min(zoom) < 1:  # shrinking: average over the area each output pixel covers first
        area = ndimage.uniform_filter(area, size=[max(1, round(1 / z)) for z in zoom], mode="nearest")
    resized = ndimage.zoom(area, zoom, order=1, grid_mode=True, mode="nearest")
    out = np.zeros(shape, dtype=bool)
    h, w = min(shape[0], resized.shape[0]), min(shape[1], resized.shape[1])
    out[:h, :w] = resized[:h, :w] >= 0.5
    return out
