"""3D structures that drive the simulator, as weighted point clouds.

(INTERFACE STUB with a placeholder implementation - to be replaced.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Structure:
    """A 3D structure as scattering points.

    coords_A: (N, 3) float32 positions in Å, centred on the centre of mass.
    weights: (N,) float32 scattering weight per point (about the atomic number).
    """

    name: str
    coords_A: np.ndarray
    weights: np.ndarray

    @property
    def diameter_A(self) -> float:
        """Twice the largest distance of a point from the centre, in Å."""
        return 2.0 * float(np.sqrt((self.coords_A**2).sum(axis=1)).max())


def builtin_names() -> list[str]:
    """Names of the structures shipped inside the package."""
    return ["placeholder_sphere"]


def load_structure(source: str | Path, apix_map: float | None = None) -> Structure:
    """Load a builtin by name, or a user's PDB / mmCIF / MRC map file."""
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(4000, 3))
    pts *= (60.0 * rng.random(4000) ** (1 / 3) / np.linalg.norm(pts, axis=1))[:, None]
    return Structure(str(source), pts.astype(np.float32), np.full(4000, 6.0, np.float32))
