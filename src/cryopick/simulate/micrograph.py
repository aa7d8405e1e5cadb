"""Image formation: one simulated micrograph with its truth.

The specimen (particles, junk, ice, carbon) is built as phase and absorption layers
(:mod:`cryopick.simulate.canvas`). The microscope then forms the weak-phase image

    I(r) = I0(r) * exp(-absorb(r)) * (1 - 2 * F^-1[ CTF(k) * F[phase](k) ](r))

where the CTF (:mod:`cryopick.simulate.ctf`) includes amplitude contrast and a B-factor envelope,
and I0 is the smooth ice-thickness gradient. Shot noise (Gaussian limit of Poisson,
variance proportional to the local intensity) is added at the level that gives the
requested SNR, then the detector MTF, then the image is scaled to counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.fft
from scipy.ndimage import binary_dilation

from cryopick.simulate.ctf import CTFParams, ctf_2d, rfft_frequencies
from cryopick.io.picks import make_picks
from cryopick.simulate.canvas import Layers, paste, phase_per_weight
from cryopick.simulate.config import SimulationConfig
from cryopick.simulate.layout import Discs, free_area_fraction, place_discs
from cryopick.simulate.nuisances import add_aggregates, add_carbon_edge, add_dots, add_ice
from cryopick.simulate.projection import box_px_for, project, random_rotations
from cryopick.simulate.structures import Structure

WATER_RING_A = 3.7
"""Spacing of the diffuse ring of vitreous ice (Å)."""

WATER_RING_GAIN = 2.0
"""Power of the water ring at its peak relative to the ice texture (as in real micrographs)."""

JUNK_PHASE_RAD = 0.02
"""Phase (rad) or absorption above which a pixel belongs to junk in :attr:`MicrographResult.junk_mask`
(an aggregate's projected protein reaches ~0.1-0.3 rad at its centre, carbon 0.3-0.8)."""

JUNK_MASK_MARGIN_DIAMETERS = 0.25
"""The junk mask is grown by this many particle diameters (the fringes at junk edges)."""

JUNK_MASK_CLEAR_DIAMETERS = 0.3
"""Radius, in particle diameters, kept out of the junk mask around every good particle."""


@dataclass
class MicrographResult:
    """One simulated micrograph.

    Attributes
    ----------
    name
        Micrograph name (file stem).
    image
        float32 (ny, nx) in counts: particles dark on a lighter background.
    objects
        Picks table of EVERY object, with columns ``kind`` (particle, aggregate, ice,
        dot, carbon_edge), ``structure``, ``detail`` and ``touching``; score is 1 for
        particles and 0 for junk.
    decoys
        Points on junk (x, y, kind) from which wrong labels are drawn.
    ctf
        The micrograph's CTF parameters.
    noise_sigma
        Shot-noise standard deviation relative to a background of 1 (before the MTF).
    dose_e_per_A2
        The dose that gives this noise level.
    signal_power
        Mean square CTF-modulated contrast of an isolated particle inside its disc.
    parts
        Intermediate images (``clean``, ``particles``: the particle contrast only,
        ``noise``) when asked for with ``keep_parts``; else empty.
    junk_mask
        Boolean (ny, nx): where junk is (ice, carbon, dots, aggregates), grown by
        :data:`JUNK_MASK_MARGIN_DIAMETERS` particle diameters for their Fresnel fringes,
        with a disc of :data:`JUNK_MASK_CLEAR_DIAMETERS` kept clear around every good
        particle. Known negatives for training and the truth of "a pick on junk".
    """

    name: str
    image: np.ndarray
    objects: pd.DataFrame
    decoys: pd.DataFrame
    ctf: CTFParams
    noise_sigma: float
    dose_e_per_A2: float
    signal_power: float
    parts: dict[str, np.ndarray] = field(default_factory=dict)
    junk_mask: np.ndarray | None = None


def micrograph_seeds(seed: int, index: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(image seed, label seed) of micrograph ``index``: the same whatever the dataset size.

    Equal to ``np.random.SeedSequence(seed).spawn(n)[index].spawn(2)`` for any n > index.
    """
    child = np.random.SeedSequence(seed, spawn_key=(index,))
    image_seed, label_seed = child.spawn(2)
    return image_seed, label_seed


def draw_ctf(rng: np.random.Generator, config: SimulationConfig) -> CTFParams:
    """Defocus (uniform in the range), astigmatism and its angle for one micrograph."""
    lo, hi = config.defocus_range_um
    mean_A = rng.uniform(lo, hi) * 1e4
    diff_A = rng.uniform(0.0, config.astigmatism_um) * 1e4
    return CTFParams(
        defocus_u_A=float(mean_A + diff_A / 2),
        defocus_v_A=float(mean_A - diff_A / 2),
        astig_angle_deg=float(rng.uniform(0.0, 180.0)),
        voltage_kv=config.voltage_kv,
        cs_mm=config.cs_mm,
        amplitude_contrast=config.amplitude_contrast,
        bfactor_A2=config.bfactor_A2,
    )


def simulate_micrograph(config: SimulationConfig, index: int, structures: Sequence[Structure] | None = None,
                        *, keep_parts: bool = False) -> MicrographResult:
    """Simulate micrograph ``index`` of a dataset (deterministic given config and index).

    Parameters
    ----------
    config
        The dataset's config.
    index
        Which micrograph (0-based); its random stream depends only on seed and index.
    structures
        The loaded structures of ``config.structures``, in order (loaded here if None;
        pass them when simulating many micrographs).
    keep_parts
        Keep intermediate noise-free images in ``result.parts`` (for tests and figures).
    """
    if structures is None:
        from cryopick.simulate.dataset import load_structures

        structures = load_structures(config)
    name = config.micrograph_name(index)
    rng = np.random.default_rng(micrograph_seeds(config.seed, index)[0])
    shape = config.shape
    apix = config.apix
    ctf = draw_ctf(rng, config)
    scales = [phase_per_weight(apix, config.voltage_kv)] * len(structures)
    layers = Layers.empty(shape)
    placed = Discs()
    rows: list[dict[str, object]] = []
    decoys: list[tuple[float, float, str]] = []
    clearances = []
    carbon_mask = None
    area_um2 = shape[0] * shape[1] * apix**2 / 1e8
    junk = config.junk
    if rng.random() < junk.carbon_edge_probability:
        edge, carbon_mask, r, d = add_carbon_edge(rng, layers, apix)
        clearances.append(edge.clearance())
        rows += r
        decoys += d
    r, d = add_ice(rng, layers, apix, int(rng.poisson(junk.ice_per_um2 * area_um2)), placed)
    rows, decoys = rows + r, decoys + d
    r, d = add_aggregates(rng, layers, apix, int(rng.poisson(junk.aggregates_per_um2 * area_um2)), placed,
                          structures, scales, clearances)
    rows, decoys = rows + r, decoys + d
    r, d = add_dots(rng, layers, apix, int(rng.poisson(junk.dots_per_um2 * area_um2)), placed)
    rows, decoys = rows + r, decoys + d
    rows += _add_particles(rng, layers, config, structures, scales, placed, clearances)
    junk_mask = _junk_mask(layers, rows, float(np.mean([s.diameter_A for s in structures])) / apix)

    image, parts, sigma, power = _form_image(rng, layers, ctf, config, structures, scales, carbon_mask, keep_parts)
    objects = _objects_table(name, rows)
    decoy_table = pd.DataFrame({"x": [d[0] for d in decoys], "y": [d[1] for d in decoys],
                                "kind": [d[2] for d in decoys]}, columns=["x", "y", "kind"])
    dose = 1.0 / (sigma**2 * apix**2)
    return MicrographResult(name, image, objects, decoy_table, ctf, sigma, dose, power, parts, junk_mask)


def _junk_mask(layers: Layers, rows: list[dict[str, object]], diameter_px: float) -> np.ndarray:
    """Where junk is, from the layers before noise (see :attr:`MicrographResult.junk_mask`)."""
    mask = (layers.phase_other > JUNK_PHASE_RAD) | (layers.absorb > JUNK_PHASE_RAD)
    grow = int(round(JUNK_MASK_MARGIN_DIAMETERS * diameter_px))
    if grow > 0 and mask.any():
        mask = binary_dilation(mask, iterations=grow)
    clear = JUNK_MASK_CLEAR_DIAMETERS * diameter_px
    reach = int(np.ceil(clear))
    offsets = np.arange(-reach, reach + 1)
    disc = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= clear * clear
    for row in rows:
        if row["kind"] != "particle":
            continue
        cx, cy = int(round(float(row["x"]))), int(round(float(row["y"])))
        y0, x0 = max(cy - reach, 0), max(cx - reach, 0)
        y1, x1 = min(cy + reach + 1, mask.shape[0]), min(cx + reach + 1, mask.shape[1])
        if y1 > y0 and x1 > x0:
            mask[y0:y1, x0:x1] &= ~disc[y0 - (cy - reach):y1 - (cy - reach), x0 - (cx - reach):x1 - (cx - reach)]
    return mask


def _add_particles(rng: np.random.Generator, layers: Layers, config: SimulationConfig,
                   structures: Sequence[Structure], scales: Sequence[float], placed: Discs,
                   clearances: list) -> list[dict[str, object]]:
    shape, apix = config.shape, config.apix
    radii_by_structure = np.array([s.diameter_A / (2 * apix) for s in structures])
    if config.particles_per_micrograph is not None:
        lo, hi = config.particles_per_micrograph
        n = int(rng.integers(lo, hi + 1))
    else:
        free = free_area_fraction(shape, clearances) * shape[0] * shape[1]
        n = int(round(config.particle_area_fraction * free / float(np.mean(np.pi * radii_by_structure**2))))
    which = rng.integers(0, len(structures), n)
    where = place_discs(rng, shape, radii_by_structure[which], placed, clearances=clearances, gap_px=1.0,
                        edge_margin=0.5, touching_fraction=config.touching_fraction)
    rows: list[dict[str, object]] = []
    kinds = which[where.index]
    for j, structure in enumerate(structures):
        mine = np.flatnonzero(kinds == j)
        if not len(mine):
            continue
        box = box_px_for(structure, apix)
        images = project(structure, random_rotations(len(mine), rng), apix, box)
        for k, img in zip(mine, images):
            paste(layers.phase_particles, (img * scales[j]).astype(np.float32), where.x[k], where.y[k])
    for k in range(len(where.x)):
        j = int(kinds[k])
        rows.append({"x": float(np.round(where.x[k])), "y": float(np.round(where.y[k])),
                     "diameter_px": 2 * float(radii_by_structure[j]), "kind": "particle",
                     "structure": structures[j].name, "detail": "touching" if where.touching[k] else "",
                     "touching": bool(where.touching[k])})
    return rows


def _objects_table(name: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    for row in rows:
        row.setdefault("touching", False)
    # Junk is recorded where it was drawn; particles sit on whole pixels (see paste).
    return make_picks(
        name,
        [r["x"] for r in rows],
        [r["y"] for r in rows],
        score=[1.0 if r["kind"] == "particle" else 0.0 for r in rows],
        diameter_px=[r["diameter_px"] for r in rows],
        kind=[r["kind"] for r in rows],
        structure=[r["structure"] for r in rows],
        detail=[r["detail"] for r in rows],
        touching=[bool(r["touching"]) for r in rows],
    )


def reference_signal_power(ctf: CTFParams, apix: float, structures: Sequence[Structure],
                           scales: Sequence[float], rng: np.random.Generator, n_views: int = 4) -> float:
    """Mean square CTF-modulated contrast inside the disc of an isolated particle.

    Averaged over ``n_views`` random orientations of each structure, each projected
    alone in a box large enough for the CTF's delocalisation.
    """
    values = []
    for structure, scale in zip(structures, scales):
        d_px = structure.diameter_A / apix
        deloc = ctf.wavelength_A * max(ctf.defocus_u_A, ctf.defocus_v_A) / (2 * apix) / apix
        pbox = box_px_for(structure, apix)
        box = scipy.fft.next_fast_len(int(min(2 * deloc + 16, 3 * d_px + 64)) + pbox, real=True)
        c = ctf_2d((box, box), apix, ctf)
        yy, xx = np.ogrid[:box, :box]
        disc = (xx - box // 2) ** 2 + (yy - box // 2) ** 2 <= (d_px / 2) ** 2
        for img in project(structure, random_rotations(n_views, rng), apix, pbox):
            canvas = np.zeros((box, box), np.float32)
            paste(canvas, img * scale, box // 2, box // 2)
            s = -2.0 * scipy.fft.irfft2(scipy.fft.rfft2(canvas, workers=-1) * c, s=(box, box), workers=-1)
            values.append(float(np.mean(s[disc] ** 2)))
    return float(np.mean(values)) if values else 0.0


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], order: int = 4) -> np.ndarray:
    """A smooth random field with values in [-1, 1] (a few cosine modes, a ramp included)."""
    ny, nx = shape
    coef = rng.normal(size=(order, order)) / (1.0 + np.add.outer(np.arange(order), np.arange(order)) ** 2)
    coef[0, 0] = 0.0
    by = np.cos(np.pi * np.outer((np.arange(ny) + 0.5) / ny, np.arange(order)))
    bx = np.cos(np.pi * np.outer((np.arange(nx) + 0.5) / nx, np.arange(order)))
    f = (by @ coef @ bx.T).astype(np.float32)
    return f / max(float(np.abs(f).max()), 1e-12)


def _padding(ctf: CTFParams, apix: float, shape: tuple[int, int]) -> int:
    """Pixels of mirror padding that keep the CTF's delocalised fringes from wrapping around."""
    deloc_px = ctf.wavelength_A * max(ctf.defocus_u_A, ctf.defocus_v_A) / (2 * apix) / apix
    return int(min(max(deloc_px, 16), max(shape) // 4))


def _form_image(rng: np.random.Generator, layers: Layers, ctf: CTFParams, config: SimulationConfig,
                structures: Sequence[Structure], scales: Sequence[float], carbon_mask: np.ndarray | None,
                keep_parts: bool) -> tuple[np.ndarray, dict[str, np.ndarray], float, float]:
    shape, apix = config.shape, config.apix
    pad = _padding(ctf, apix, shape)
    pshape = (scipy.fft.next_fast_len(shape[0] + 2 * pad, real=True),
              scipy.fft.next_fast_len(shape[1] + 2 * pad, real=True))
    pads = ((pad, pshape[0] - shape[0] - pad), (pad, pshape[1] - shape[1] - pad))
    n_pix = pshape[0] * pshape[1]
    c = ctf_2d(pshape, apix, ctf)
    power = reference_signal_power(ctf, apix, structures, scales, rng)
    if config.snr is not None and power > 0:
        sigma2 = power / config.snr
    else:
        sigma2 = 1.0 / ((config.dose_e_per_A2 if config.snr is None else 40.0) * apix**2)

    # Ice: smooth thickness gradient (mean intensity) and structural noise through the CTF.
    field_ = _smooth_field(rng, shape)
    intensity0 = 1.0 - config.ice_gradient * field_
    # Texture power is set relative to the shot noise in the power spectrum: at a CTF
    # maximum (before the envelope) the ice adds ice_texture times the noise floor.
    texture_var = sigma2 / 4.0
    thickness = np.sqrt(np.clip(1.0 + 3.0 * config.ice_gradient * field_, 0.2, None))
    phase = layers.phase_other
    phase += np.sqrt(config.ice_texture * texture_var) * thickness * rng.standard_normal(shape, dtype=np.float32)
    if carbon_mask is not None and config.carbon_texture > 0:
        phase += np.sqrt(config.carbon_texture * texture_var) * carbon_mask * rng.standard_normal(
            shape, dtype=np.float32)
    phase += layers.phase_particles
    spec = scipy.fft.rfft2(np.pad(phase, pads, mode="reflect"), workers=-1)
    spec *= c
    if 1.0 / WATER_RING_A < 0.5 / apix and config.ice_texture > 0:
        # The diffuse ring of vitreous ice at 3.7 Å, WATER_RING_GAIN times the ice texture
        # at its peak; drawn after the CTF, whose oscillations there average out anyway.
        kx, ky = rfft_frequencies(pshape, apix)
        k = np.sqrt(kx * kx + ky * ky).astype(np.float32)
        ring = np.exp(-0.5 * ((k - 1.0 / WATER_RING_A) / 0.025) ** 2).astype(np.float32)
        amp = np.sqrt(0.5 * n_pix * WATER_RING_GAIN * config.ice_texture * sigma2 / 4.0) * ring
        spec += amp * (rng.standard_normal(ring.shape, dtype=np.float32)
                       + 1j * rng.standard_normal(ring.shape, dtype=np.float32))
    contrast = scipy.fft.irfft2(spec, s=pshape, workers=-1)[pad : pad + shape[0], pad : pad + shape[1]]
    contrast *= -2.0
    transmission = intensity0 * np.exp(-layers.absorb)
    clean = transmission * (1.0 + contrast)
    np.maximum(clean, 0.02, out=clean)
    noise = np.sqrt(clean * np.float32(sigma2)) * rng.standard_normal(shape, dtype=np.float32)
    image = clean + noise
    if config.mtf_at_nyquist < 1.0:
        fx, fy = rfft_frequencies(shape, 1.0)
        mtf = np.exp(np.log(config.mtf_at_nyquist) * (fx * fx + fy * fy) / 0.25).astype(np.float32)
        image = scipy.fft.irfft2(scipy.fft.rfft2(image, workers=-1) * mtf, s=shape, workers=-1)
    image *= np.float32(config.mean_counts)
    parts: dict[str, np.ndarray] = {}
    if keep_parts:
        spec_p = scipy.fft.rfft2(np.pad(layers.phase_particles, pads, mode="reflect"), workers=-1) * c
        particles = -2.0 * scipy.fft.irfft2(spec_p, s=pshape, workers=-1)[pad : pad + shape[0], pad : pad + shape[1]]
        parts = {"clean": clean, "particles": np.ascontiguousarray(particles, dtype=np.float32), "noise": noise,
                 "transmission": transmission.astype(np.float32)}
    return image.astype(np.float32, copy=False), parts, float(np.sqrt(sigma2)), power


__all__ = ["MicrographResult", "draw_ctf", "micrograph_seeds", "reference_signal_power", "simulate_micrograph"]
