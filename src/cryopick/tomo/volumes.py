"""Tomograms as 3D MRC files: memory-mapped reading, atomic writing, one-line errors.

A tomogram is read with :func:`open_tomogram`, which memory-maps the file (nothing is
read until a slab is asked for), so a 1024×1024×300 volume costs no memory to open.
The voxel size comes from the header; ``apix`` overrides it, and a header without one
is an error naming the fix, as for micrographs.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path

TOMOGRAM_SUFFIXES = (".mrc", ".rec", ".map", ".st")
FIX_CORRUPT = "re-copy or re-export the tomogram (3D MRC, one volume per file)"


@dataclass(frozen=True)
class Tomogram:
    """An open tomogram: its name, path, voxel size and the memory-mapped ``data[z, y, x]``."""

    name: str
    path: Path
    data: np.ndarray
    apix: float
    data_offset: int = 1024

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nz, ny, nx): sections, rows, columns."""
        return tuple(int(n) for n in self.data.shape)  # type: ignore[return-value]

    def sections(self, start: int, stop: int) -> np.ndarray:
        """Sections ``start:stop`` as a new array, read from the file (not through the memory map).

        Pages touched through a memory map stay in the process's resident memory until it
        ends; reading slab by slab into fresh arrays keeps a 1.2 GB tomogram out of it.
        """
        nz, ny, nx = self.shape
        start, stop = max(start, 0), min(stop, nz)
        dtype = self.data.dtype
        with open(self.path, "rb") as handle:
            handle.seek(self.data_offset + start * ny * nx * dtype.itemsize)
            values = np.fromfile(handle, dtype=dtype, count=(stop - start) * ny * nx)
        return values.reshape(stop - start, ny, nx)


def tomogram_name(path: str | Path) -> str:
    """The tomogram's name: its file stem (``TS_01.mrc`` -> ``TS_01``)."""
    return Path(path).stem


@contextlib.contextmanager
def open_tomogram(path: str | Path, apix: float | None = None) -> Iterator[Tomogram]:
    """Memory-map a 3D MRC tomogram; closed when the ``with`` block ends.

    Raises
    ------
    CryopickError
        Missing file, not an MRC, truncated data, not 3D, a dimension under 8, or no
        voxel size (and no ``apix``).
    """
    path = Path(path)
    if not path.is_file():
        raise CryopickError("does not exist", path=path, fix="check the path")
    with warnings.catch_warnings(record=True) as caught:  # permissive mrcfile warns where strict would raise
        warnings.simplefilter("always")
        try:
            handle = mrcfile.mmap(path, mode="r", permissive=True)
        except (ValueError, OSError) as exc:
            raise CryopickError(f"cannot read it as MRC ({exc})", path=path, fix=FIX_CORRUPT) from None
    if caught:
        handle.close()
        raise CryopickError(f"cannot read it as MRC; truncated or corrupt ({caught[0].message})", path=path,
                            fix=FIX_CORRUPT)
    try:
        data = handle.data
        if data is None:
            raise CryopickError("the header does not describe a volume, or the data are truncated", path=path,
                                fix=FIX_CORRUPT)
        if data.ndim != 3 or min(data.shape) < 8:
            raise CryopickError(f"is an array of shape {tuple(data.shape)}, not a tomogram (3D, at least 8 voxels "
                                "each way)", path=path, fix="give a reconstructed tomogram; for micrographs use "
                                "`cryopick pick`")
        expected = int(np.prod(data.shape, dtype=np.int64)) * data.dtype.itemsize
        if path.stat().st_size < expected + 1024:
            raise CryopickError("the file is shorter than its header says (truncated)", path=path, fix=FIX_CORRUPT)
        offset = 1024 + int(handle.header.nsymbt)  # the data follow the header and its extension
        yield Tomogram(tomogram_name(path), path, data, _voxel_size(handle, path, apix), offset)
    finally:
        handle.close()


def _voxel_size(handle, path: Path, apix: float | None) -> float:
    if apix is not None:
        if not (np.isfinite(apix) and apix > 0):
            raise CryopickError(f"--apix must be positive, not {apix}", fix="give the voxel size in Å, e.g. --apix 10")
        return float(apix)
    size = float(handle.voxel_size.x)
    if not (np.isfinite(size) and size > 0):
        raise CryopickError("no voxel size in the header (0 or missing)", path=path, fix="pass --apix <Å/voxel>")
    return size


def tomogram_shape(path: str | Path, apix: float | None = None) -> tuple[tuple[int, int, int], float]:
    """(nz, ny, nx) and the voxel size, from the header (the checks of :func:`open_tomogram`)."""
    with open_tomogram(path, apix) as tomo:
        return tomo.shape, tomo.apix


def write_tomogram(path: str | Path, data: np.ndarray, apix: float) -> Path:
    """Write ``data[z, y, x]`` as a float32 MRC with voxel size ``apix``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
            mrc.voxel_size = apix
    return path


def list_tomograms(inputs: tuple[str, ...] | list[str]) -> list[Path]:
    """Files and folders (their tomograms, by name) as a list of paths; an error when none is found."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in TOMOGRAM_SUFFIXES)
        else:
            matches = sorted(Path().glob(item)) if any(c in item for c in "*?[") else [path]
            paths += matches
    if not paths:
        raise CryopickError(f"no tomograms found in {', '.join(inputs)}", fix="give .mrc or .rec files or a folder "
                            "holding them")
    return list(dict.fromkeys(paths))
