"""cryopick: find protein particles in cryo-EM micrographs.

The library is usable without the command line::

    from cryopick.io.micrographs import read_micrograph
    from cryopick.pickers.log import pick_log
    mic = read_micrograph("mic.mrc")
    picks = pick_log(mic, diameter_A=150)

Coordinates everywhere inside cryopick follow one convention: ``x`` is the column and
``y`` the row of the array as :mod:`mrcfile` reads it, in pixels of the original
micrograph. File formats convert at their readers and writers only.
"""

from cryopick.errors import CryopickError

__version__ = "0.1.0"
__all__ = ["CryopickError", "__version__"]
