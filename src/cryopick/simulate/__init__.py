"""Simulated micrographs with truth, made as a microscope makes them.

>>> from cryopick.simulate import SimulationConfig, simulate_dataset   # doctest: +SKIP
>>> config = SimulationConfig(n_micrographs=4, shape=(1024, 1024), apix=4.0, seed=0)
>>> summary = simulate_dataset("sim/", config)

See docs/simulator.md for the physics, every parameter and the output files.

The names below are loaded from their modules when first used, so that importing a light
module of this package (:mod:`cryopick.simulate.builtins`, for ``cryopick simulate --help``)
does not load numpy and scipy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryopick.simulate.config import CROWDING_PRESETS, SIMULATOR_VERSION, SimulationConfig
    from cryopick.simulate.dataset import SimulationSummary, load_structures, simulate_dataset
    from cryopick.simulate.labels import draw_labels, truth_picks
    from cryopick.simulate.micrograph import MicrographResult, simulate_micrograph
    from cryopick.simulate.nuisances import JUNK_PRESETS, JunkConfig, junk_preset

_HOMES: dict[str, str] = {
    "CROWDING_PRESETS": "config", "SIMULATOR_VERSION": "config", "SimulationConfig": "config",
    "SimulationSummary": "dataset", "load_structures": "dataset", "simulate_dataset": "dataset",
    "draw_labels": "labels", "truth_picks": "labels",
    "MicrographResult": "micrograph", "simulate_micrograph": "micrograph",
    "JUNK_PRESETS": "nuisances", "JunkConfig": "nuisances", "junk_preset": "nuisances",
}
"""Each public name -> the module of this package that defines it."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    """Load a public name from its module on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
