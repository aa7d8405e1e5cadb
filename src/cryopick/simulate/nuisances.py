"""Things on a micrograph that a picker must NOT pick.

* ``ice``: crystalline-ice contamination, large (300 Å - 1 µm), irregular and very dark,
  with bright Fresnel fringes at its rim once the CTF is applied.
* ``carbon_edge``: the edge of the support film; one side of the micrograph is covered by
  thin amorphous carbon (darker, textured, strong Thon rings) with a sharp, straight or
  curved boundary.
* ``dot``: small dense spheres (3 - 8 nm, gold- or ferritin-like) of high contrast.
* ``aggregate``: clumps of 3 - 8 overlapping particles, some partial or denatured.

Each ``add_*`` function draws its objects with the generator it is given, adds their
phase and absorption to the :class:`~cryopick.simulate.canvas.Layers`, records them as
object rows (``x, y, diameter_px, kind, structure, detail``) and returns *decoys*: points
on the junk where a careless label may land.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from cryopick.errors import CryopickError
from cryopick.simulate.canvas import Layers, disc_profile, paste
from cryopick.simulate.layout import Clearance, Discs, place_discs
from cryopick.simulate.projection import box_px_for, project, random_rotations
from cryopick.simulate.structures import Structure

Row = dict[str, object]
Decoy = tuple[float, float, str]


@dataclass(frozen=True)
class JunkConfig:
    """How much junk to put on each micrograph.

    Attributes
    ----------
    ice_per_um2, dots_per_um2, aggregates_per_um2
        Mean number per µm^2 of micrograph (drawn from a Poisson distribution).
    carbon_edge_probability
        Probability that a micrograph shows a carbon edge.
    """

    ice_per_um2: float = 2.0
    dots_per_um2: float = 60.0
    aggregates_per_um2: float = 12.0
    carbon_edge_probability: float = 0.3

    def __post_init__(self) -> None:
        for name in ("ice_per_um2", "dots_per_um2", "aggregates_per_um2"):
            if not getattr(self, name) >= 0:
                raise CryopickError(f"junk amount {name} must be >= 0, got {getattr(self, name)}",
                                    fix="give 0 for none")
        if not 0.0 <= self.carbon_edge_probability <= 1.0:
            raise CryopickError(f"carbon edge probability must be in [0, 1], got {self.carbon_edge_probability}",
                                fix="give a probability such as 0.3")

    @property
    def any(self) -> bool:
        return bool(self.ice_per_um2 or self.dots_per_um2 or self.aggregates_per_um2 or self.carbon_edge_probability)


JUNK_PRESETS: dict[str, JunkConfig] = {
    "none": JunkConfig(0.0, 0.0, 0.0, 0.0),
    "some": JunkConfig(),
    "lots": JunkConfig(ice_per_um2=8.0, dots_per_um2=250.0, aggregates_per_um2=40.0, carbon_edge_probability=0.7),
}


def junk_preset(name: str) -> JunkConfig:
    """The :class:`JunkConfig` called ``none``, ``some`` or ``lots``."""
    try:
        return JUNK_PRESETS[name]
    except KeyError:
        raise CryopickError(f"unknown junk amount {name!r}", fix=f"use one of {', '.join(JUNK_PRESETS)}") from None


def _row(x: float, y: float, diameter_px: float, kind: str, structure: str = "", detail: str = "") -> Row:
    return {"x": float(x), "y": float(y), "diameter_px": float(diameter_px), "kind": kind,
            "structure": structure, "detail": detail}


# --- carbon edge -------------------------------------------------------------------


@dataclass(frozen=True)
class CarbonEdge:
    """A carbon film over part of the micrograph; ``depth(x, y)`` > 0 inside the carbon."""

    centre: tuple[float, float]  # image centre (x, y)
    normal: tuple[float, float]  # unit vector pointing into the carbon
    offset_px: float  # distance of the edge from the image centre along the normal
    radius_px: float  # radius of the hole (inf: straight edge)
    waves: tuple[tuple[float, float, float], ...]  # (amplitude px, wavelength px, phase)

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Signed distance (px) into the carbon; negative in the hole."""
        dx = np.asarray(x, dtype=np.float32) - self.centre[0]
        dy = np.asarray(y, dtype=np.float32) - self.centre[1]
        nx, ny = self.normal
        along = dx * nx + dy * ny
        across = dy * nx - dx * ny
        if np.isinf(self.radius_px):
            d = along - self.offset_px
        else:
            c = self.radius_px - self.offset_px  # hole centre at -c along the normal
            d = np.sqrt((along + c) ** 2 + across**2) - self.radius_px
        for amp, wavelength, phase in self.waves:
            d = d + amp * np.sin(2 * np.pi * across / wavelength + phase)
        return d

    def clearance(self) -> Clearance:
        """Distance from points to the carbon (for placing particles in the hole)."""
        return lambda x, y: -self.depth(x, y)

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Fraction of each pixel covered by carbon (float32, 1-pixel soft edge)."""
        ny, nx = shape
        d = self.depth(np.arange(nx, dtype=np.float32)[None, :], np.arange(ny, dtype=np.float32)[:, None])
        return np.clip(d + 0.5, 0.0, 1.0).astype(np.float32)


def add_carbon_edge(rng: np.random.Generator, layers: Layers,
                    apix: float) -> tuple[CarbonEdge, np.ndarray, list[Row], list[Decoy]]:
    """Cover part of the micrograph with carbon; returns the edge, its mask, rows and decoys.

    The carbon's texture (structural noise) is added later, once the noise level is known.
    """
    ny, nx = layers.shape
    angle = rng.uniform(0, 2 * np.pi)
    normal = (float(np.cos(angle)), float(np.sin(angle)))
    half_extent = 0.5 * (abs(normal[0]) * nx + abs(normal[1]) * ny)
    offset = rng.uniform(0.15, 0.75) * half_extent
    radius = np.inf if rng.random() < 0.3 else rng.uniform(4000.0, 10000.0) / apix
    # An irregular edge: a few random Fourier modes along it, up to ~20 Å in amplitude.
    extent = float(max(nx, ny))
    waves = tuple((float(rng.uniform(0.3, 1.0) * 20.0 / apix / m), float(extent / m * rng.uniform(0.6, 1.4)),
                   float(rng.uniform(0, 2 * np.pi))) for m in range(1, 6))
    edge = CarbonEdge((nx / 2.0, ny / 2.0), normal, float(offset), float(radius), waves)
    mask = edge.mask(layers.shape)
    # ~5-12 nm of carbon at ~10 V over ice that is thinner there: a phase step of a few
    # tenths of a radian and a few per cent more scattering out of the aperture.
    layers.phase_other += rng.uniform(0.3, 0.8) * mask
    layers.absorb += rng.uniform(0.03, 0.1) * mask
    # The point of the edge nearest the image centre, and points along it inside the image.
    px = nx / 2.0 + normal[0] * offset
    py = ny / 2.0 + normal[1] * offset
    t = np.linspace(-1.5, 1.5, 61) * max(nx, ny)
    ex, ey = px - normal[1] * t, py + normal[0] * t
    if np.isfinite(radius):
        cx, cy = px - normal[0] * radius, py - normal[1] * radius
        theta = np.arctan2(ey - cy, ex - cx)
        ex, ey = cx + radius * np.cos(theta), cy + radius * np.sin(theta)
    inside = (ex >= 0) & (ex < nx) & (ey >= 0) & (ey < ny)
    ex, ey = ex[inside], ey[inside]
    if len(ex):
        k = int(np.argmin((ex - nx / 2) ** 2 + (ey - ny / 2) ** 2))
        px, py = float(ex[k]), float(ey[k])
    shape_name = "straight" if np.isinf(radius) else f"curved (hole radius {radius * apix:.0f} A)"
    rows = [_row(px, py, np.nan, "carbon_edge", detail=f"{shape_name}; normal angle {np.degrees(angle):.1f} deg")]
    decoys = [(float(a), float(b), "carbon_edge") for a, b in zip(ex[::3], ey[::3])]
    return edge, mask, rows, decoys


# --- crystalline ice -----------------------------------------------------------------


def _blob(rng: np.random.Generator, size: int, radius: float) -> np.ndarray:
    """An irregular, flat-topped blob (0..1) of about ``radius`` in a ``size`` box.

    One to three overlapping lobes whose rims wander with random harmonics (1/m falloff,
    rough at small scale), and a lumpy interior.
    """
    yy, xx = np.mgrid[:size, :size].astype(np.float32) - size // 2
    out = np.zeros((size, size), np.float32)
    n_lobes = 1 + int(rng.integers(0, 3))
    for lobe in range(n_lobes):
        r0 = radius * (1.0 if lobe == 0 else rng.uniform(0.4, 0.8))
        ox, oy = (0.0, 0.0) if lobe == 0 else np.clip(rng.normal(0, 0.35 * radius, 2), -0.4 * radius, 0.4 * radius)
        theta = np.arctan2(yy - oy, xx - ox)
        rt = np.ones_like(theta)
        for m in range(2, 24):
            rt += rng.normal(0, 0.16 / m) * np.cos(m * theta + rng.uniform(0, 2 * np.pi))
        r = np.hypot(xx - ox, yy - oy) / (r0 * np.clip(rt, 0.5, 1.4))
        out = np.maximum(out, np.clip(1.0 - r * r, 0.0, None) ** 0.25)
    coarse = rng.normal(size=(16, 16)).astype(np.float32)
    lumps = zoom(gaussian_filter(coarse, 1.0), size / 16.0, order=1)[:size, :size]
    return out * np.clip(1.0 + 0.15 * lumps / (lumps.std() + 1e-6), 0.5, 1.5)


def add_ice(rng: np.random.Generator, layers: Layers, apix: float, count: int, placed: Discs,
            clearances: Sequence[Clearance] = ()) -> tuple[list[Row], list[Decoy]]:
    """Add ``count`` crystalline-ice blobs (300 Å - 1 µm across, capped at half the image)."""
    ny, nx = layers.shape
    cap = 0.5 * min(nx, ny) * apix
    diam_A = np.exp(rng.uniform(np.log(300.0), np.log(1000.0), count))
    radii = np.minimum(diam_A, cap) / (2 * apix)
    where = place_discs(rng, layers.shape, radii * 1.5, placed, clearances=clearances, edge_margin=0.0, gap_px=0)
    rows: list[Row] = []
    decoys: list[Decoy] = []
    for x, y, i in zip(where.x, where.y, where.index):
        r = radii[i]
        size = int(2 * np.ceil(1.8 * r)) + 8
        h = _blob(rng, size, r)
        paste(layers.absorb, (rng.uniform(1.2, 2.6) * h).astype(np.float32), x, y)
        paste(layers.phase_other, (rng.uniform(2.0, 6.0) * h).astype(np.float32), x, y)
        rows.append(_row(x, y, 2 * r, "ice", detail=f"{2 * r * apix:.0f} A"))
        decoys.append((float(x), float(y), "ice"))
        for a in rng.uniform(0, 2 * np.pi, 2):
            decoys.append((float(x + 0.8 * r * np.cos(a)), float(y + 0.8 * r * np.sin(a)), "ice"))
    return rows, decoys


# --- dots ------------------------------------------------------------------------------


def add_dots(rng: np.random.Generator, layers: Layers, apix: float, count: int, placed: Discs,
             clearances: Sequence[Clearance] = ()) -> tuple[list[Row], list[Decoy]]:
    """Add ``count`` dense dots (gold/ferritin-like spheres, 3 - 8 nm across)."""
    diam_A = rng.uniform(30.0, 80.0, count)
    radii = np.maximum(diam_A / (2 * apix), 0.75)
    where = place_discs(rng, layers.shape, radii, placed, clearances=clearances, gap_px=1.0)
    rows: list[Row] = []
    decoys: list[Decoy] = []
    for x, y, i in zip(where.x, where.y, where.index):
        r = radii[i]
        size = int(2 * np.ceil(r)) + 5
        h = disc_profile(size, r, size // 2 + (x - round(x)), size // 2 + (y - round(y)))
        paste(layers.absorb, rng.uniform(0.5, 1.2) * h, x, y)
        paste(layers.phase_other, rng.uniform(0.5, 1.5) * h, x, y)
        rows.append(_row(x, y, 2 * r, "dot", detail=f"{2 * r * apix:.0f} A"))
        decoys.append((float(x), float(y), "dot"))
    return rows, decoys


# --- aggregates --------------------------------------------------------------------


def add_aggregates(rng: np.random.Generator, layers: Layers, apix: float, count: int, placed: Discs,
                   structures: Sequence[Structure], phase_scales: Sequence[float],
                   clearances: Sequence[Clearance] = ()) -> tuple[list[Row], list[Decoy]]:
    """Add ``count`` clumps of 3 - 8 overlapping particles, about a third of them denatured."""
    plans = []
    for _ in range(count):
        k = int(rng.integers(3, 9))
        kinds = rng.integers(0, len(structures), k)
        radii = np.array([structures[j].diameter_A / (2 * apix) for j in kinds])
        pos = np.zeros((k, 2))
        for m in range(1, k):
            anchor = pos[int(rng.integers(0, m))]
            a = rng.uniform(0, 2 * np.pi)
            pos[m] = anchor + rng.uniform(0.55, 0.95) * 2 * radii[m] * np.array([np.cos(a), np.sin(a)])
        pos -= pos.mean(axis=0)
        bound = float((np.hypot(pos[:, 0], pos[:, 1]) + radii).max())
        plans.append((kinds, pos, radii, bound))
    where = place_discs(rng, layers.shape, np.array([p[3] for p in plans]), placed,
                        clearances=clearances, gap_px=2.0)
    rows: list[Row] = []
    decoys: list[Decoy] = []
    for x, y, i in zip(where.x, where.y, where.index):
        kinds, pos, radii, bound = plans[i]
        n_denatured = 0
        for j, (dx, dy), r in zip(kinds, pos, radii):
            box = box_px_for(structures[j], apix)
            img = project(structures[j], random_rotations(1, rng), apix, box)[0] * phase_scales[j]
            if rng.random() < 0.35:
                n_denatured += 1
                img = gaussian_filter(img, rng.uniform(0.03, 0.1) * 2 * r)
                yy, xx = np.mgrid[:box, :box] - box // 2
                a = rng.uniform(0, 2 * np.pi)
                cut = (xx * np.cos(a) + yy * np.sin(a)) / max(r, 1.0)
                img = img / (1.0 + np.exp(-(cut + rng.uniform(-0.2, 0.8)) * 8.0))
            paste(layers.phase_other, (img * rng.uniform(0.7, 1.1)).astype(np.float32), x + dx, y + dy)
            decoys.append((float(x + dx), float(y + dy), "aggregate"))
        names = ",".join(sorted({structures[j].name for j in kinds}))
        rows.append(_row(x, y, 2 * bound, "aggregate", structure=names,
                         detail=f"{len(kinds)} particles, {n_denatured} denatured"))
    return rows, decoys
