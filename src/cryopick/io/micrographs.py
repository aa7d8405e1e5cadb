"""Micrographs in and out: MRC, TIFF, JPG/PNG as float32 arrays with a pixel size.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MicrographInfo:
    """What the header says, without reading the pixels."""

    name: str  # file stem, see cryopick.io.names.micrograph_name
    path: Path
    shape: tuple[int, int]  # (ny, nx) = (rows, columns)
    apix: float  # Å per pixel (after any override)
    dtype: str  # on-disk dtype, e.g. "uint16"


@dataclass(frozen=True)
class Micrograph:
    """A 2D micrograph as float32 with its pixel size."""

    name: str
    path: Path
    data: np.ndarray  # float32, shape (ny, nx); x = column, y = row
    apix: float  # Å per pixel

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))


def read_micrograph_info(path: str | Path, apix: float | None = None) -> MicrographInfo:
    """Read shape, pixel size and dtype from the header only."""
    raise NotImplementedError


def read_micrograph(path: str | Path, apix: float | None = None, *, allow_nonfinite: bool = False) -> Micrograph:
    """Read a micrograph as float32 with its pixel size (``apix`` overrides the header)."""
    raise NotImplementedError


def write_mrc(path: str | Path, data: np.ndarray, apix: float) -> None:
    """Write a 2D float32 MRC that keeps the pixel size, atomically."""
    raise NotImplementedError


def list_micrographs(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand globs, folders, ``@list.txt`` and STAR files of micrographs into paths."""
    raise NotImplementedError
