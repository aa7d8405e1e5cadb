"""3D structures that drive the simulator, as weighted point clouds.

A :class:`Structure` is a cloud of scattering points: positions in Å centred on the
weighted centre of mass, and one weight per point that is about the summed atomic number
of the atoms it stands for (electron scattering grows roughly with Z). Three sources:

* **Builtins** shipped inside the package (``simulate/data/*.npz``, no download needed):
  procedural complexes made by :mod:`cryopick.simulate._build_builtins` and
  coarse-grained copies of CC0 PDB entries (two pseudo-atoms per residue: backbone and
  side chain). ``data/PROVENANCE.txt`` says where each one comes from.
* **Atomic models** (``.pdb``, ``.ent``, ``.cif``, ``.mmcif``, optionally gzipped) read
  with gemmi: first model only, weight = atomic number x occupancy, hydrogens and waters
  left out (so a model weighs the same whether or not it carries hydrogens).
* **Density maps** (``.mrc``, ``.map``) read with mrcfile: every voxel above a robust
  background level becomes one point weighted by its density above background, rescaled
  so the total weight matches a protein of the same volume (see :func:`map_to_points`).

Large clouds are fine here; :func:`coarse_grain` merges points cell by cell when a
consumer (the projector) wants fewer.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import mrcfile
import numpy as np
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.simulate.builtins import BUILTINS

__all__ = [
    "ATOMIC_SUFFIXES",
    "MAP_SUFFIXES",
    "PROTEIN_Z_PER_A3",
    "Structure",
    "builtin_description",
    "builtin_names",
    "builtin_path",
    "coarse_grain",
    "load_structure",
    "map_to_points",
    "merge_on_grid",
    "read_points_npz",
]

ATOMIC_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif")
MAP_SUFFIXES = (".mrc", ".map")
PROTEIN_Z_PER_A3 = 0.39
"""Summed atomic number (no hydrogens) per Å³ of protein: ~53 per residue of 110 Da at
1.35 g/cm³ (0.81 Da/Å³, 136 Å³ per residue)."""
MIN_BLOB_FRACTION = 0.01
MAX_MAP_POINTS = 250_000
"""A map with more voxels above background is block-summed (2x2x2, 3x3x3...) first."""
_WATERS = {"HOH", "WAT", "H2O", "DOD", "D2O", "TIP", "TIP3", "SOL"}
_FIX_FILE = "give a readable .pdb/.ent/.cif/.mmcif model or .mrc/.map density map"


@dataclass(frozen=True, eq=False, repr=False)
class Structure:
    """A 3D structure as scattering points.

    Parameters
    ----------
    name
        Builtin name or file stem.
    coords_A
        (N, 3) positions (x, y, z) in Å. Re-centred on the weighted centre of mass at
        construction; stored as read-only float32.
    weights
        (N,) scattering weight per point, about the summed atomic number; > 0 in total.
    """

    name: str
    coords_A: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        xyz = np.asarray(self.coords_A, dtype=np.float64)
        w = np.asarray(self.weights, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) == 0:
            raise ValueError(f"coords_A must be (N>0, 3), got {xyz.shape}")
        if w.shape != (len(xyz),):
            raise ValueError(f"weights must be ({len(xyz)},), got {w.shape}")
        if not (np.isfinite(xyz).all() and np.isfinite(w).all()) or (w < 0).any() or w.sum() <= 0:
            raise ValueError("coords_A and weights must be finite, weights >= 0 with a positive sum")
        xyz -= (w[:, None] * xyz).sum(axis=0) / w.sum()
        for attr, arr in (("coords_A", xyz), ("weights", w)):
            arr32 = np.ascontiguousarray(arr, dtype=np.float32)
            arr32.flags.writeable = False
            object.__setattr__(self, attr, arr32)

    @functools.cached_property
    def diameter_A(self) -> float:
        """Twice the largest distance of a point from the centre, in Å."""
        return 2.0 * float(np.sqrt((self.coords_A.astype(np.float64) ** 2).sum(axis=1)).max())

    @property
    def n_points(self) -> int:
        """Number of scattering points."""
        return len(self.weights)

    @property
    def total_weight(self) -> float:
        """Sum of the weights (about the summed atomic number of the whole particle)."""
        return float(self.weights.sum(dtype=np.float64))

    def __repr__(self) -> str:
        return (f"Structure(name={self.name!r}, n_points={self.n_points}, "
                f"diameter_A={self.diameter_A:.1f}, total_weight={self.total_weight:.4g})")


# ----------------------------------------------------------------------------- builtins


def builtin_names() -> list[str]:
    """Names of the structures shipped inside the package."""
    return list(BUILTINS)


def builtin_description(name: str) -> str:
    """One line saying what a builtin is."""
    return BUILTINS[name]


def builtin_path(name: str) -> Path:
    """Where the builtin ``name`` is stored (``simulate/data/<name>.npz``)."""
    return Path(str(resources.files("cryopick.simulate") / "data" / f"{name}.npz"))


@functools.cache
def _load_builtin(name: str) -> Structure:
    path = builtin_path(name)
    if not path.is_file():
        raise CryopickError(f"builtin structure {name!r} is missing from the installation",
                            path=path, fix="reinstall cryopick (pip install -e .)")
    return Structure(name, *read_points_npz(path))


def read_points_npz(source: bytes | Path) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (Å) and weights stored in a builtin ``.npz`` (its bytes or its path)."""
    with np.load(io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False) as z:
        return z["coords_q"].astype(np.float64) * float(z["coord_scale_A"]), z["weights"].copy()


# ----------------------------------------------------------------------------- loading


def load_structure(source: str | Path, apix_map: float | None = None, *,
                   map_threshold: float | None = None) -> Structure:
    """Load a builtin by name, or a user's atomic model or density map.

    Parameters
    ----------
    source
        A name from :func:`builtin_names`, or a path to ``.pdb/.ent/.cif/.mmcif``
        (optionally ``.gz``) or ``.mrc/.map``.
    apix_map
        Voxel size of a map in Å; overrides the header. Required when the header has none.
    map_threshold
        Density above which map voxels become points; default from :func:`map_to_points`.

    Returns
    -------
    Structure
        Builtins are cached: loading one twice returns the same (read-only) object.

    Raises
    ------
    CryopickError
        Unknown builtin name, missing/unreadable/empty file, unknown suffix, map without
        a voxel size.
    """
    if isinstance(source, str) and source in BUILTINS:
        return _load_builtin(source)
    path = Path(source)
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    kind = suffixes[-1] if suffixes else ""
    if kind == ".gz" and len(suffixes) == 2:
        kind = suffixes[0]
    if kind not in ATOMIC_SUFFIXES + MAP_SUFFIXES:
        if path.exists() or kind:
            raise CryopickError(f"unknown structure file type {path.suffix!r}", path=path,
                                fix=_FIX_FILE)
        raise CryopickError(f"no builtin structure named {str(source)!r} and no such file",
                            fix=f"use one of {', '.join(BUILTINS)} or a path to a model or map")
    if not path.is_file():
        raise CryopickError("structure file not found", path=path, fix="check the path")
    if kind in MAP_SUFFIXES:
        return _load_map(path, apix_map, map_threshold)
    return _load_atomic(path)


def _stem(path: Path) -> str:
    """File name without its structure suffix (and .gz): ``6qt9.cif.gz`` -> ``6qt9``."""
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return Path(name).stem


def _load_atomic(path: Path) -> Structure:
    import gemmi

    try:
        st = gemmi.read_structure(str(path))
    except (RuntimeError, ValueError, OSError) as exc:
        raise CryopickError(f"cannot read atomic model ({exc})", path=path, fix=_FIX_FILE) from exc
    if len(st) == 0:
        raise CryopickError("the model file has no models", path=path, fix=_FIX_FILE)
    xyz, z = [], []
    for chain in st[0]:
        for res in chain:
            if res.name.upper() in _WATERS:
                continue
            for atom in res:
                number = atom.element.atomic_number
                if number > 1:  # no hydrogens (H, D) and no unknown elements (0)
                    xyz.append(atom.pos.tolist())
                    z.append(number * atom.occ)
    weights = np.asarray(z, dtype=np.float64)
    if len(weights) == 0 or weights.sum() <= 0:
        raise CryopickError("the model has no non-hydrogen atoms (or all have zero occupancy)",
                            path=path, fix=_FIX_FILE)
    return Structure(_stem(path), np.asarray(xyz), weights)


def _load_map(path: Path, apix_map: float | None, threshold: float | None) -> Structure:
    try:  # permissive: odd headers are fine as long as the data block reads
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with mrcfile.open(path, permissive=True) as mrc:
                data = None if mrc.data is None else np.asarray(mrc.data, dtype=np.float32)
                vs = mrc.voxel_size
                voxel = np.array([float(vs.x), float(vs.y), float(vs.z)])
    except (ValueError, OSError, EOFError) as exc:
        raise CryopickError(f"cannot read density map ({exc})", path=path, fix=_FIX_FILE) from exc
    if data is None:
        why = "; ".join(str(w.message) for w in caught) or "no data block"
        raise CryopickError(f"cannot read density map ({why})", path=path, fix=_FIX_FILE)
    if data.ndim != 3 or min(data.shape) < 2:
        raise CryopickError(f"not a 3D density map (data shape {data.shape})", path=path, fix=_FIX_FILE)
    if not np.isfinite(data).all():
        raise CryopickError("the map has NaN or infinite voxels", path=path,
                            fix="re-export the map with finite values")
    if apix_map is not None:
        if not (math.isfinite(apix_map) and apix_map > 0):
            raise CryopickError(f"voxel size must be > 0 Å, got {apix_map}", path=path,
                                fix="pass the map's voxel size in Å")
        voxel = np.full(3, float(apix_map))
    elif not (np.isfinite(voxel).all() and (voxel > 0).all()):
        raise CryopickError("the map header has no voxel size (0 Å)", path=path,
                            fix="pass the map's voxel size (apix_map / --apix-map)")
    try:
        coords, weights = map_to_points(data, voxel, threshold)
    except ValueError as exc:
        raise CryopickError(str(exc), path=path,
                            fix="pass a lower map threshold, or check the map has positive density") from exc
    return Structure(_stem(path), coords, weights)


def map_to_points(data: np.ndarray, voxel_A: np.ndarray | float, threshold: float | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Voxels above background as weighted points.

    Parameters
    ----------
    data
        (nz, ny, nx) density as mrcfile lays it out (``data[z, y, x]``).
    voxel_A
        Voxel size in Å, scalar or (x, y, z).
    threshold
        Density level; default ``median + max(3 * 1.4826 * MAD, 0.05 * (max - median))``,
        i.e. three robust noise sigmas above the (solvent) median, and at least 5% of the
        peak for noise-free maps. Connected blobs above it that hold less than 1% of the
        mass (noise specks) are dropped.

    Returns
    -------
    coords_A, weights
        Points at voxel centres (x, y, z in Å) and weights = density - median, rescaled
        so that the total equals ``PROTEIN_Z_PER_A3`` times the particle volume (see
        :func:`_protein_volume_A3`; map units are arbitrary, this puts maps on the same
        scale as atomic models, within about 30%). Maps with more than
        ``MAX_MAP_POINTS`` kept voxels are block-summed first.
    """
    voxel = np.broadcast_to(np.asarray(voxel_A, dtype=np.float64), (3,))
    data = np.asarray(data, dtype=np.float32)
    bg = float(np.median(data))
    if threshold is None:
        mad = float(np.median(np.abs(data - bg)))
        threshold = bg + max(3.0 * 1.4826 * mad, 0.05 * (float(data.max()) - bg))
    keep = data > threshold
    if not keep.any() or float(data.max()) <= bg:
        raise ValueError(f"no voxel of the map is above the threshold {threshold:.4g}")
    labels, n_labels = ndimage.label(keep)
    if n_labels > 1:  # drop specks of noise: blobs holding < 1% of the mass above threshold
        mass = ndimage.sum_labels(data - bg, labels, index=np.arange(1, n_labels + 1))
        keep = np.isin(labels, 1 + np.flatnonzero(mass >= MIN_BLOB_FRACTION * mass.sum()))
    n_keep = int(keep.sum())
    dens = np.where(keep, data - bg, 0.0).astype(np.float32)
    offset = 0.0
    if n_keep > MAX_MAP_POINTS:
        k = math.ceil((n_keep / MAX_MAP_POINTS) ** (1 / 3))
        nz, ny, nx = (n // k for n in dens.shape)
        dens = dens[: nz * k, : ny * k, : nx * k].reshape(nz, k, ny, k, nx, k).sum(axis=(1, 3, 5))
        voxel, offset = voxel * k, (k - 1) / 2.0
    iz, iy, ix = np.nonzero(dens > 0)
    weights = dens[iz, iy, ix].astype(np.float64)
    coords = (np.stack([ix, iy, iz], axis=1) + offset) * voxel
    weights *= PROTEIN_Z_PER_A3 * _protein_volume_A3(dens, voxel) / weights.sum()
    return coords, weights


def _protein_volume_A3(dens: np.ndarray, voxel: np.ndarray) -> float:
    """Volume of the particle in a density (>= 0) map, resolution-independent.

    The map is blurred to ~12 Å (ChimeraX molmap sigma) so that atoms and secondary
    structure no longer make peaks; the volume is then the total density divided by the
    interior density, taken as the 95th percentile of voxels above 5% of the peak. On maps
    made from known models (4-20 Å resolution) this gives 0.7-1.3x the model's volume.
    """
    blurred = ndimage.gaussian_filter(dens.astype(np.float64), 12.0 / (math.pi * math.sqrt(2)) / voxel[::-1],
                                      mode="constant")
    inside = blurred[blurred > 0.05 * blurred.max()]
    return float(dens.sum(dtype=np.float64) / np.percentile(inside, 95) * np.prod(voxel))


# ----------------------------------------------------------------------------- coarse graining


def coarse_grain(structure: Structure, max_points: int) -> Structure:
    """Merge points on a cubic grid until at most ``max_points`` remain.

    Each occupied cell becomes one point at the weighted centroid of its points, carrying
    their summed weight, so total weight and centre of mass are exact. The cell is the
    smallest (in steps of 10%, from 1/4 of the size giving ``max_points`` cells over the
    bounding box) that leaves few enough occupied cells. Images of the result differ from
    the original's at spatial frequencies above ~1/(2 x cell) only, so keep the cell
    (:func:`merge_on_grid` returns it) below ~resolution / 3. Returns ``structure``
    itself when it is already small enough.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    if structure.n_points <= max_points:
        return structure
    coords, weights, _ = merge_on_grid(structure.coords_A, structure.weights, max_points)
    return Structure(structure.name, coords, weights)


def merge_on_grid(coords_A: np.ndarray, weights: np.ndarray, max_points: int
                  ) -> tuple[np.ndarray, np.ndarray, float]:
    """Grid merging behind :func:`coarse_grain`: (coords_A, weights, cell_A).

    ``cell_A`` is 0 when nothing was merged.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1, got {max_points}")
    xyz = np.asarray(coords_A, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if len(w) <= max_points:
        return xyz, w, 0.0
    lo = xyz.min(axis=0)
    extent = np.maximum(xyz.max(axis=0) - lo, 1e-3)
    cell = 0.25 * float(np.prod(extent) / max_points) ** (1 / 3)
    while True:
        idx = np.floor((xyz - lo) / cell).astype(np.int64)
        dims = idx.max(axis=0) + 1
        keys = (idx[:, 0] * dims[1] + idx[:, 1]) * dims[2] + idx[:, 2]
        uniq, inverse = np.unique(keys, return_inverse=True)
        if len(uniq) <= max_points:
            break
        cell *= 1.1
    wsum = np.bincount(inverse, weights=w, minlength=len(uniq))
    good = wsum > 0
    safe = np.where(good, wsum, 1.0)
    cen = np.stack([np.bincount(inverse, weights=w * xyz[:, k], minlength=len(uniq)) / safe
                    for k in range(3)], axis=1)
    return cen[good], wsum[good], cell
