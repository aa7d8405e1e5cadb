"""Warnings for pick runs whose settings look like a mistake.

A diameter no particle has, or picks packed tighter than particles fit.

Both come as one line with the fix, said by :func:`cryopick.runs.picking.run_picking`;
neither stops the run (a user may know better).
"""

from __future__ import annotations

import math

SMALLEST_PARTICLE_A = 40.0
"""About the smallest particle single-particle cryo-EM resolves (a ~40 kDa protein is ~45 Å across)."""
LARGEST_PARTICLE_A = 3000.0
"""Larger than the largest viruses and complexes picked as single particles."""
MAX_COVERAGE = 0.6
"""Discs of one diameter can cover at most ~0.91 of a plane (hexagonal packing); real
fields of particles, even crowded, cover well under this fraction."""


def diameter_warning(diameter_A: float) -> str | None:
    """A line when ``diameter_A`` is outside what particles measure; None when plausible."""
    if diameter_A < SMALLEST_PARTICLE_A:
        return (f"warning: a particle diameter of {diameter_A:g} Å is below any particle single-particle cryo-EM "
                f"picks (about {SMALLEST_PARTICLE_A:g} Å and up), so the picks will be noise; fix: give --diameter "
                f"in Å (not nm: {diameter_A * 10:g} Å?), the particle's full width")
    if diameter_A > LARGEST_PARTICLE_A:
        return (f"warning: a particle diameter of {diameter_A:g} Å is larger than particles come "
                f"(up to about {LARGEST_PARTICLE_A:g} Å); fix: give --diameter in Å, the particle's full width")
    return None


def crowding_warning(n_picks: int, diameter_px: float | None, area_px: float) -> str | None:
    """A line when ``n_picks`` discs of ``diameter_px`` would cover more of ``area_px`` than particles can."""
    if diameter_px is None or area_px <= 0 or n_picks == 0:
        return None
    coverage = n_picks * math.pi * (diameter_px / 2.0) ** 2 / area_px
    if coverage <= MAX_COVERAGE:
        return None
    return (f"warning: the {n_picks} picks would cover {coverage:.0%} of the micrographs at {diameter_px:.0f} px "
            "across, more than particles can (even crowded fields cover well under "
            f"{MAX_COVERAGE:.0%}); fix: check --diameter (Å, the particle's full width) and the pixel size, or "
            "raise --threshold")
