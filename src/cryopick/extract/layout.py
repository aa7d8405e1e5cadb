"""Where an extraction writes: the particles STAR file, and the stacks in a folder beside it.

Standard library only, so that ``cryopick extract --help`` can name them without loading numpy.
"""

from __future__ import annotations

PARTICLES_STAR = "particles.star"
"""The particles STAR file ``cryopick extract`` writes into its output folder."""

STACK_FOLDER = "Particles"
"""Stacks are written to ``<STAR file's folder>/Particles/<micrograph>.mrcs``."""
