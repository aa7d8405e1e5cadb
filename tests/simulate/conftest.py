"""Shared by the simulator's tests: a fast configuration, one micrograph simulated, masks of its discs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryopick.simulate import (
    JUNK_PRESETS,
    JunkConfig,
    SimulationConfig,
    load_structures,
    simulate_micrograph,
)

NO_JUNK = JUNK_PRESETS["none"]
ALL_JUNK = JunkConfig(ice_per_um2=60.0, dots_per_um2=600.0, aggregates_per_um2=150.0, carbon_edge_probability=1.0)


def small(**changes: object) -> SimulationConfig:
    """A fast config: 256 x 320 px at 4 Å/px, globular particles, no junk unless asked."""
    base = dict(n_micrographs=2, shape=(256, 320), apix=4.0, structures=("globular",), junk=NO_JUNK)
    base.update(changes)
    return SimulationConfig(**base)  # type: ignore[arg-type]


def simulate(config: SimulationConfig, index: int = 0, **kwargs: object):
    return simulate_micrograph(config, index, load_structures(config), **kwargs)


def discs(objects: pd.DataFrame, shape: tuple[int, int], kind: str = "particle", scale: float = 0.5) -> np.ndarray:
    """Boolean mask of the discs (radius = scale * diameter) of objects of one kind."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    for row in objects.loc[objects["kind"] == kind].itertuples():
        mask |= (xx - row.x) ** 2 + (yy - row.y) ** 2 <= (scale * row.diameter_px) ** 2
    return mask
