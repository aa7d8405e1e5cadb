"""The working scale of a tomogram: binned so the particle is about 7 voxels across, read slab by slab.

The bin factor is ``round(diameter_vox / WORKING_DIAMETER_VOX)`` (at least 1), the same
integer along x, y and z, so a working voxel ``(i, j, k)`` covers original voxels
``bin*i .. bin*i + bin - 1`` and its centre is at ``bin*i + (bin - 1)/2``. The binned
volume is made ``bin`` sections at a time, read from the file into fresh arrays (a
1024×1024×300 tomogram reads 12 MB at a time at bin 3; pages read through a memory map
would stay resident) and normalised robustly (median 0, MAD-based spread 1),
so picking and training see the same numbers whatever the tomogram's scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.errors import CryopickError
from cryopick.preprocess import median_and_spread
from cryopick.tomo.volumes import Tomogram

WORKING_DIAMETER_VOX = 7.0
"""The particle's diameter at the working scale, in binned voxels."""


@dataclass(frozen=True)
class WorkingVolume:
    """A tomogram at the working scale: ``data[z, y, x]``, its bin factor and the particle's binned diameter."""

    data: np.ndarray
    bin: int
    diameter_vox: float

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nz, ny, nx) at the working scale."""
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    def sections(self, start: int, stop: int) -> np.ndarray:
        """Working sections ``start:stop`` (a view)."""
        return self.data[max(start, 0):min(stop, self.data.shape[0])]

    def to_original(self, zyx: np.ndarray) -> np.ndarray:
        """Working-scale positions ``(n, 3)`` as z, y, x to original voxels (centres of the bins)."""
        return np.asarray(zyx, dtype=np.float64) * self.bin + (self.bin - 1) / 2.0

    def to_working(self, zyx: np.ndarray) -> np.ndarray:
        """Original-voxel positions ``(n, 3)`` as z, y, x to the working scale."""
        return (np.asarray(zyx, dtype=np.float64) - (self.bin - 1) / 2.0) / self.bin


def bin_factor(diameter_A: float, apix: float) -> int:
    """The integer bin that brings a ``diameter_A`` particle near :data:`WORKING_DIAMETER_VOX`."""
    diameter_vox = diameter_A / apix
    if not diameter_vox >= 3.0:
        raise CryopickError(f"a particle of {diameter_A:g} Å is only {diameter_vox:.1f} voxels at {apix:g} Å/voxel",
                            fix="check --diameter is in Å and the voxel size (--apix); at least 3 voxels are needed")
    return max(1, int(round(diameter_vox / WORKING_DIAMETER_VOX)))


@dataclass(frozen=True)
class WorkingReader:
    """A tomogram at the working scale read a few sections at a time (nothing held but the open file).

    :meth:`sections` gives what ``working_volume(...).data[start:stop]`` holds, value for
    value, so a tomogram too large to bin whole in memory is picked slab by slab
    (:mod:`cryopick.tomo.pick`) with the same numbers.
    """

    tomo: Tomogram
    bin: int
    diameter_vox: float
    shape: tuple[int, int, int]
    centre: float
    spread: float

    to_original = WorkingVolume.to_original
    to_working = WorkingVolume.to_working

    def sections(self, start: int, stop: int) -> np.ndarray:
        """Working sections ``start:stop`` (clipped to the volume), binned and normalised, as a new array."""
        start, stop = max(start, 0), min(stop, self.shape[0])
        out = _binned(self.tomo, self.bin, self.shape, start, stop)
        out -= np.float32(self.centre)
        out /= np.float32(self.spread)
        return out


def _binned(tomo: Tomogram, b: int, shape: tuple[int, int, int], start: int, stop: int) -> np.ndarray:
    """Block means of working sections ``start:stop``, read from the file section slab by section slab."""
    _, oy, ox = shape
    out = np.empty((max(stop - start, 0), oy, ox), np.float32)
    for k in range(start, stop):
        slab = np.asarray(tomo.sections(k * b, (k + 1) * b)[:, : oy * b, : ox * b], dtype=np.float32)
        if not np.isfinite(slab).all():
            raise CryopickError(f"has NaN or infinite voxels (sections {k * b}-{(k + 1) * b - 1})", path=tomo.path,
                                fix="re-export the tomogram")
        out[k - start] = slab.reshape(b, oy, b, ox, b).mean(axis=(0, 2, 4))
    return out


def working_reader(tomo: Tomogram, diameter_A: float) -> WorkingReader:
    """The working scale of ``tomo``: its bin and the robust centre and spread of every 16th-or-so section."""
    b = bin_factor(diameter_A, tomo.apix)
    nz, ny, nx = tomo.shape
    shape = (nz // b, ny // b, nx // b)
    oz, oy, ox = shape
    if min(shape) < 8:
        raise CryopickError(f"binned by {b} for a {diameter_A:g} Å particle the tomogram is only {ox}x{oy}x{oz}",
                            path=tomo.path, fix="check --diameter and the voxel size; a tomogram needs 8 binned "
                            "voxels each way")
    step = max(1, oz // 16)
    sample = np.concatenate([_binned(tomo, b, shape, k, k + 1).ravel() for k in range(0, oz, step)])
    centre, spread = median_and_spread(sample)
    if not spread > 0:
        raise CryopickError("is flat (no contrast)", path=tomo.path, fix="check it is a reconstructed tomogram")
    return WorkingReader(tomo, b, diameter_A / tomo.apix / b, shape, float(centre), float(spread))


def working_volume(tomo: Tomogram, diameter_A: float) -> WorkingVolume:
    """``tomo`` block-mean binned to the working scale, slab by slab, robustly normalised."""
    reader = working_reader(tomo, diameter_A)
    return WorkingVolume(reader.sections(0, reader.shape[0]), reader.bin, reader.diameter_vox)
