"""cryopick: find protein particles in cryo-EM micrographs.

The library is usable without the command line::

    from cryopick.io.micrographs import read_micrograph
    from cryopick.pickers.log import pick_log
    mic = read_micrograph("mic.mrc")
    picks = pick_log(mic, diameter_A=150)

Coordinates everywhere inside cryopick follow one convention: ``x`` is the column and
``y`` the row of the array as :mod:`mrcfile` reads it, in pixels of the original
micrograph. File formats convert at their readers and writers only.

Importing cryopick sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is already set (before
PyTorch starts its OpenMP threads; worker processes inherit it): idle OpenMP threads then
sleep instead of spinning, so a run sharing its cores with another job slows by about the
fair share (benchmarks/bench_load.py: FCN training 2.4x slower beside two busy processes
on 2 cores, where the fair share is 2x; 3.5x with OMP_WAIT_POLICY=ACTIVE). See docs/scale.md.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from cryopick.errors import CryopickError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["CryopickError", "__version__"]
