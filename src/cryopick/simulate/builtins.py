"""The structures shipped inside the package (``simulate/data/<name>.npz``): name -> one line saying what it is.

Standard library only, so that ``cryopick simulate --help`` can list them without loading the
simulator; :mod:`cryopick.simulate.structures` loads them.
"""

from __future__ import annotations

BUILTINS: dict[str, str] = {
    "globular": "procedural globular seven-domain protein, ~115 Å, ~190 kDa",
    "ring7": "procedural 7-fold ring (chaperonin-like heptamer), ~125 Å across, ~80 Å tall, ~260 kDa",
    "dumbbell": "procedural two-lobed particle with a helical stalk, ~190 x 85 Å, ~240 kDa",
    "small": "procedural small three-domain protein, ~60 Å, ~30 kDa",
    "6qt9": "PDB 6QT9 (SH1 virus capsid assembly, 30 chains, ~600 kDa, ~300 Å), 2 points/residue",
    "8zpm": "PDB 8ZPM (BRIL-CXCR4 with nanobody Nb6, 401 residues, ~45 kDa modelled), 2 points/residue",
    "ring5": "procedural 5-fold ring of two-domain subunits, ~100 Å across, ~110 kDa",
    "rod": "procedural elongated four-domain particle without a waist, ~210 x 60 Å, ~130 kDa",
}
