"""Simulated tomograms with truth: particles in a slab of ice, imaged as a tilt series, reconstructed by WBP.

Each tomogram is made as a microscope makes it:

1. **The specimen**: particles of one structure at random orientations, kept apart by
   0.9 diameters, inside a slab of vitreous ice; beside them the objects that fool
   pickers: gold fiducials (10 nm beads, 10x protein's contrast) at the slab's
   surfaces, vesicles (lipid shells 40 Å thick, 300-700 Å radius) in it, and ice
   contamination (crystalline blobs) on its top.
2. **The tilt series** (default ±60° in 3° steps, dose-symmetric): at each tilt every
   object is projected along the beam after the specimen's rotation about y (particles
   with :func:`cryopick.simulate.projection.project`, the others analytically); the
   image is the projected contrast through the CTF (``defocus_um``), its high
   frequencies faded by the cumulative dose (Grant & Grigorieff's critical exposure),
   its contrast by the longer path through ice at high tilt, plus white noise at the
   chosen per-tilt SNR.
3. **The tomogram**: weighted back-projection (:mod:`cryopick.tomo.reconstruct`), so the
   missing wedge, the CTF's ripples and the noise are those of a real reconstruction.

The truth lists every object with its kind; labels take a fraction of the particles and
put a fraction of them on junk or background, as a person's picks would. The same
config and seed give the same files. A 512×512×200 tomogram takes about 15 s on 2 cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.simulate.canvas import paste
from cryopick.tomo.reconstruct import (back_project, dose_symmetric_order, projection_u, tilt_angles_deg,
                                       tilt_rotation)

PROTEIN_CONTRAST = 0.12
"""Protein's scattering density above vitreous ice, in weight (≈ electrons) per Å³ (0.43 − 0.31)."""
CONTRASTS = {"fiducial": 1.2, "vesicle": 0.08, "contamination": 0.22}
"""The same for gold (10x protein: mean inner potential ~30 V against protein's ~7 V and
ice's ~4.5 V), lipid shells, and crystalline ice sitting in vacuum on the slab (1.8x)."""
INELASTIC_MFP_A = 3500.0
"""Mean free path for inelastic scattering at 300 kV: the zero-loss contrast fades as exp(-t / λ)."""
KINDS = ("particle", "fiducial", "vesicle", "contamination")


@dataclass(frozen=True)
class TomoSimConfig:
    """What decides a simulated tomogram (see the module docstring); checked when made.

    Attributes
    ----------
    shape
        (nz, ny, nx) voxels: sections, rows, columns.
    apix
        Voxel size in Å (tilt images are simulated at it: binned, as tomograms are picked).
    structure
        A builtin structure name or a PDB/mmCIF/MRC file.
    n_particles
        Particles per tomogram.
    ice_thickness_A
        Slab thickness; None: 75% of the volume's height.
    n_fiducials, n_vesicles, n_contaminations
        Nuisance objects per tomogram.
    tilt_max_deg, tilt_step_deg
        The tilt series: ±max in steps.
    defocus_um
        Underfocus in µm.
    total_dose
        Electrons per Å² over the whole series.
    snr
        Per-tilt signal-to-noise of the particles (variance ratio at 0°).
    label_fraction, wrong_label_fraction
        Fraction of particles labelled; fraction of labels put on junk or background instead.
    seed
        Random seed; tomogram ``i`` uses ``seed + i``.
    """

    shape: tuple[int, int, int] = (200, 512, 512)
    apix: float = 10.0
    structure: str = "6qt9"
    n_particles: int = 120
    ice_thickness_A: float | None = None
    n_fiducials: int = 8
    n_vesicles: int = 2
    n_contaminations: int = 1
    tilt_max_deg: float = 60.0
    tilt_step_deg: float = 3.0
    defocus_um: float = 4.0
    total_dose: float = 120.0
    snr: float = 0.05
    label_fraction: float = 1.0
    wrong_label_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or min(self.shape) < 16:
            raise CryopickError(f"a tomogram of {self.shape} voxels is too small", fix="give at least 16 each way, "
                                "e.g. --size 512 --thickness 200")
        for name in ("apix", "snr", "total_dose", "defocus_um"):
            if not getattr(self, name) > 0:
                raise CryopickError(f"{name} must be positive, not {getattr(self, name)}",
                                    fix=f"give a positive {name}")
        for name in ("label_fraction", "wrong_label_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise CryopickError(f"{name} must be in [0, 1], not {getattr(self, name)}", fix="give a fraction")
        tilt_angles_deg(self.tilt_max_deg, self.tilt_step_deg)  # checks the range


@dataclass
class SimulatedTomogram:
    """One simulated tomogram: the volume ``[z, y, x]``, its tilt angles and every object placed."""

    volume: np.ndarray
    angles_deg: np.ndarray
    objects: pd.DataFrame  # kind, x, y, z (voxels), diameter_px


def _place(rng: np.random.Generator, n: int, lo: np.ndarray, hi: np.ndarray, min_dist: float,
           taken: list[np.ndarray], taken_r: list[float], radius: float) -> np.ndarray:
    """Up to ``n`` points uniform in the box ``lo..hi`` (x, y, z), ``min_dist`` apart and clear of ``taken``."""
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    out: list[np.ndarray] = []
    for _ in range(n * 60):
        if len(out) == n:
            break
        p = rng.uniform(lo, hi)
        if any(np.linalg.norm(p - q) < min_dist for q in out):
            continue
        if any(np.linalg.norm(p - q) < r + radius for q, r in zip(taken, taken_r)):
            continue
        out.append(p)
    return np.asarray(out, dtype=np.float64).reshape(-1, 3)


def _layout(config: TomoSimConfig, diameter_A: float, rng: np.random.Generator) -> pd.DataFrame:
    """Every object's kind, centre (voxels from the volume's centre) and diameter."""
    nz, ny, nx = config.shape
    a = config.apix
    half_ice = 0.5 * (config.ice_thickness_A if config.ice_thickness_A is not None else 0.75 * nz * a) / a
    d = diameter_A / a
    margin = np.array([nx / 2 - d, ny / 2 - d])
    taken: list[np.ndarray] = []
    radii: list[float] = []
    rows = []

    def add(kind: str, points: np.ndarray, diameter: float) -> None:
        for p in points:
            taken.append(p)
            radii.append(diameter / 2)
            rows.append((kind, *p, diameter))

    for _ in range(config.n_vesicles):
        r_out = min(rng.uniform(300.0, 700.0) / a, 0.4 * float(margin.min()))  # a vesicle fits the field
        z_room = max(half_ice - r_out, 0.0)
        add("vesicle", _place(rng, 1, np.array([-margin[0] + r_out, -margin[1] + r_out, -z_room]),
                              np.array([margin[0] - r_out, margin[1] - r_out, z_room]), 0, taken, radii, r_out),
            2 * r_out)
    bead = 100.0 / a
    for sign in (-1.0, 1.0):  # beads on both surfaces
        n = config.n_fiducials // 2 + (config.n_fiducials % 2 if sign > 0 else 0)
        pts = _place(rng, n, np.array([-margin[0], -margin[1], sign * half_ice]),
                     np.array([margin[0], margin[1], sign * half_ice]), 3 * bead, taken, radii, bead / 2)
        add("fiducial", pts, bead)
    for _ in range(config.n_contaminations):
        r_ice = rng.uniform(400.0, 800.0) / a
        add("contamination", _place(rng, 1, np.array([-margin[0], -margin[1], half_ice + r_ice]),
                                    np.array([margin[0], margin[1], half_ice + r_ice]), 0, taken, radii, r_ice),
            2 * r_ice)
    z_room = max(half_ice - d / 2, 0.0)
    add("particle", _place(rng, config.n_particles, np.array([-margin[0], -margin[1], -z_room]),
                           np.array([margin[0], margin[1], z_room]), 0.9 * d, taken, radii, d / 2), d)
    table = pd.DataFrame(rows, columns=["kind", "xc", "yc", "zc", "diameter_px"])
    table["x"] = table["xc"] + (nx - 1) / 2.0
    table["y"] = table["yc"] + (ny - 1) / 2.0
    table["z"] = table["zc"] + (nz - 1) / 2.0
    return table


def _disc_profile(kind: str, rho_A: np.ndarray, diameter_A: float) -> np.ndarray:
    """Projected thickness (Å) of a sphere or (vesicle) a 40 Å shell at distances ``rho_A`` from its centre."""
    r = diameter_A / 2.0
    outer = 2.0 * np.sqrt(np.clip(r * r - rho_A**2, 0.0, None))
    if kind != "vesicle":
        return outer
    inner = max(r - 40.0, 0.0)
    return outer - 2.0 * np.sqrt(np.clip(inner * inner - rho_A**2, 0.0, None))


def _tilt_images(config: TomoSimConfig, objects: pd.DataFrame, structure, rotations: np.ndarray,
                 angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projected contrast of the particles and of everything else, one (ny, nx) image per tilt."""
    from cryopick.simulate.projection import box_px_for, project

    nz, ny, nx = config.shape
    a = config.apix
    particles = objects.loc[objects["kind"] == "particle"]
    others = objects.loc[objects["kind"] != "particle"]
    box = box_px_for(structure, a, 3.0 * a)
    scale = PROTEIN_CONTRAST / 0.43  # weights are protein's full density; contrast is above ice
    parts = np.zeros((len(angles), ny, nx), np.float32)
    junk = np.zeros((len(angles), ny, nx), np.float32)
    for t, angle in enumerate(angles):
        if len(particles):
            tilt = tilt_rotation(angle)
            images = project(structure, tilt[None] @ rotations, a, box, 3.0 * a, max_points=6000)
            u = projection_u(particles["xc"].to_numpy(), particles["zc"].to_numpy(), angle) + (nx - 1) / 2.0
            for image, row, col in zip(images, particles["y"].to_numpy(), u):
                paste(parts[t], image * scale, cx=col, cy=row)
        for kind, xc, y, zc, diameter in others[["kind", "xc", "y", "zc", "diameter_px"]].itertuples(index=False):
            half = int(math.ceil(diameter / 2)) + 1
            grid = np.arange(-half, half + 1, dtype=np.float64)
            col = float(projection_u(xc, zc, angle)) + (nx - 1) / 2.0
            rho = np.hypot(grid[:, None] - (y - round(y)), grid[None, :] - (col - round(col))) * a
            thickness = _disc_profile(kind, rho, diameter * a)
            paste(junk[t], (CONTRASTS[kind] * thickness * a * a).astype(np.float32), cx=col, cy=y)
    return parts, junk


def _imaged(contrast: np.ndarray, config: TomoSimConfig, angles: np.ndarray) -> np.ndarray:
    """Each tilt's projected contrast through the CTF, faded by dose and by the path through ice."""
    from cryopick.simulate.ctf import CTFParams, ctf_2d, rfft_frequencies

    n_tilts, ny, nx = contrast.shape
    defocus = config.defocus_um * 1e4
    ctf = ctf_2d((ny, nx), config.apix, CTFParams(defocus, defocus, amplitude_contrast=0.07))
    kx, ky = rfft_frequencies((ny, nx), config.apix)
    k = np.sqrt(kx**2 + ky**2)
    critical = 0.245 * np.power(np.maximum(k, 1e-4), -1.665) + 2.81  # e/Å², Grant & Grigorieff 2015
    dose_per_tilt = config.total_dose / n_tilts
    taken = np.empty(n_tilts)
    taken[dose_symmetric_order(angles)] = np.arange(n_tilts)
    thickness = config.ice_thickness_A if config.ice_thickness_A is not None else 0.75 * config.shape[0] * config.apix
    out = np.empty_like(contrast)
    for t in range(n_tilts):
        exposure = dose_per_tilt * (taken[t] + 0.5)
        fade = np.exp(-exposure / (2.0 * critical))
        path = math.exp(-thickness / (INELASTIC_MFP_A * math.cos(math.radians(angles[t]))))
        out[t] = -np.fft.irfft2(np.fft.rfft2(contrast[t]) * ctf * fade, s=(ny, nx)) * path
    return out


def simulate_tomogram(config: TomoSimConfig, index: int = 0) -> SimulatedTomogram:
    """One tomogram of ``config`` (seed ``config.seed + index``): the volume and every object in it."""
    from cryopick.simulate.projection import random_rotations
    from cryopick.simulate.structures import load_structure

    rng = np.random.default_rng(config.seed + index)
    structure = load_structure(config.structure)
    objects = _layout(config, structure.diameter_A, rng)
    rotations = random_rotations(int((objects["kind"] == "particle").sum()), rng)
    angles = tilt_angles_deg(config.tilt_max_deg, config.tilt_step_deg)
    parts, junk = _tilt_images(config, objects, structure, rotations, angles)
    signal = _imaged(parts + junk, config, angles)
    zero = int(np.argmin(np.abs(angles)))
    particle_only = _imaged(parts[zero:zero + 1], config, angles[zero:zero + 1])[0]
    sigma = float(np.std(particle_only)) / math.sqrt(config.snr) if np.std(particle_only) > 0 else 1.0
    noisy = signal + rng.normal(0.0, sigma, size=signal.shape).astype(np.float32)
    volume = back_project(noisy, angles, config.shape[0])
    volume = (volume - np.median(volume)) / (np.std(volume) or 1.0)
    objects = objects.drop(columns=["xc", "yc", "zc"])
    return SimulatedTomogram(volume.astype(np.float32), angles, objects)


def truth_and_labels(objects: pd.DataFrame, name: str, config: TomoSimConfig,
                     rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The truth (every object, its kind) and the training labels of one tomogram.

    Labels are ``label_fraction`` of the particles; ``wrong_label_fraction`` of them are
    moved onto a nuisance object (when there is one) or a random place in the slab.
    """
    truth = objects.assign(tomogram=name, score=np.nan)[["tomogram", "x", "y", "z", "score", "diameter_px", "kind"]]
    particles = truth.loc[truth["kind"] == "particle"].reset_index(drop=True)
    n_labels = int(round(config.label_fraction * len(particles)))
    labels = particles.iloc[np.sort(rng.choice(len(particles), n_labels, replace=False))].reset_index(drop=True)
    n_wrong = int(round(config.wrong_label_fraction * n_labels))
    if n_wrong:
        wrong = rng.choice(n_labels, n_wrong, replace=False)
        junk = truth.loc[truth["kind"] != "particle"]
        nz, ny, nx = config.shape
        for i in wrong:
            if len(junk) and rng.random() < 0.5:
                j = junk.iloc[int(rng.integers(len(junk)))]
                labels.loc[i, ["x", "y", "z"]] = [j["x"], j["y"], j["z"]]
            else:
                labels.loc[i, ["x", "y", "z"]] = [rng.uniform(0, nx - 1), rng.uniform(0, ny - 1),
                                                  rng.uniform(0.2 * nz, 0.8 * nz)]
            labels.loc[i, "kind"] = "wrong"
    return truth, labels
