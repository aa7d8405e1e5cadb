"""Simulated micrographs with truth, made as a microscope makes them.

>>> from cryopick.simulate import SimulationConfig, simulate_dataset   # doctest: +SKIP
>>> config = SimulationConfig(n_micrographs=4, shape=(1024, 1024), apix=4.0, seed=0)
>>> summary = simulate_dataset("sim/", config)

See docs/simulator.md for the physics, every parameter and the output files.
"""

from cryopick.simulate.config import CROWDING_PRESETS, SIMULATOR_VERSION, SimulationConfig
from cryopick.simulate.dataset import SimulationSummary, load_structures, simulate_dataset
from cryopick.simulate.labels import draw_labels, truth_picks
from cryopick.simulate.micrograph import MicrographResult, simulate_micrograph
from cryopick.simulate.nuisances import JUNK_PRESETS, JunkConfig, junk_preset

__all__ = [
    "CROWDING_PRESETS",
    "JUNK_PRESETS",
    "SIMULATOR_VERSION",
    "JunkConfig",
    "MicrographResult",
    "SimulationConfig",
    "SimulationSummary",
    "draw_labels",
    "junk_preset",
    "load_structures",
    "simulate_dataset",
    "simulate_micrograph",
    "truth_picks",
]
