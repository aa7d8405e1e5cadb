"""Where things go on a micrograph: discs that do not overlap, at a chosen density.

Everything on a simulated micrograph is placed as a disc (centre in pixels, x = column,
y = row; radius in pixels) by random sequential addition: each new disc is tried at
random positions until it overlaps nothing placed before and keeps clear of the
forbidden regions (carbon, the edge of the image). A chosen fraction of discs is placed
*touching* an earlier disc instead, as in crowded ice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Clearance = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``f(x, y) -> distance`` in pixels from points to a forbidden region (<= 0 inside it)."""


class Discs:
    """Discs placed so far (obstacles and particles), growing as discs are added."""

    def __init__(self) -> None:
        self._xyr = np.zeros((3, 64))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, x: float, y: float, r: float) -> None:
        if self._n == self._xyr.shape[1]:
            self._xyr = np.concatenate([self._xyr, np.zeros_like(self._xyr)], axis=1)
        self._xyr[:, self._n] = (x, y, r)
        self._n += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of (x, y, r) of the discs placed so far."""
        return self._xyr[0, : self._n], self._xyr[1, : self._n], self._xyr[2, : self._n]


@dataclass(frozen=True)
class Placement:
    """Result of :func:`place_discs`: one row per disc that found room."""

    x: np.ndarray
    y: np.ndarray
    index: np.ndarray  # which of the requested radii each placed disc is
    touching: np.ndarray  # bool: placed against an earlier disc on purpose


def free_area_fraction(shape: tuple[int, int], clearances: Sequence[Clearance], n: int = 64) -> float:
    """Fraction of the image outside every forbidden region, on an ``n`` x ``n`` grid."""
    ny, nx = shape
    gy, gx = np.meshgrid((np.arange(n) + 0.5) * ny / n, (np.arange(n) + 0.5) * nx / n, indexing="ij")
    free = np.ones(gx.shape, bool)
    for fn in clearances:
        free &= fn(gx.ravel(), gy.ravel()).reshape(gx.shape) > 0
    return float(free.mean())


def place_discs(
    rng: np.random.Generator,
    shape: tuple[int, int],
    radii_px: np.ndarray,
    placed: Discs,
    *,
    clearances: Sequence[Clearance] = (),
    gap_px: float = 1.0,
    edge_margin: float = 0.5,
    touching_fraction: float = 0.0,
    tries: int = 256,
) -> Placement:
    """Place discs of ``radii_px`` one after another without overlap.

    Parameters
    ----------
    rng
        Random generator (the only source of randomness).
    shape
        ``(ny, nx)`` of the micrograph.
    radii_px
        Radius of each disc to place, in order.
    placed
        Discs already there; every new disc keeps ``gap_px`` clear of them and is added.
    clearances
        Forbidden regions: a disc's centre must be farther than its radius from each.
    edge_margin
        A centre keeps ``edge_margin * radius`` from the image border.
    touching_fraction
        Probability that a disc is placed against a random earlier disc of this call,
        at a centre distance of 0.85 - 1.0 times the sum of radii (touching, slightly
        overlapping); it falls back to a free position when there is no room there.
    tries
        Random positions tried per disc before it is given up (very crowded images hold
        fewer discs than asked).
    """
    ny, nx = shape
    out_x: list[float] = []
    out_y: list[float] = []
    out_i: list[int] = []
    out_t: list[bool] = []
    mine: list[int] = []  # indices into `placed` of discs placed by this call
    batch = 32
    for i, r in enumerate(np.asarray(radii_px, dtype=np.float64)):
        m = edge_margin * r
        if nx - 2 * m <= 0 or ny - 2 * m <= 0:
            continue
        px, py, pr = placed.arrays()
        found: tuple[float, float, bool] | None = None
        if mine and rng.random() < touching_fraction:
            j = mine[int(rng.integers(len(mine)))]
            angles = rng.uniform(0.0, 2 * np.pi, batch)
            dist = (r + pr[j]) * rng.uniform(0.85, 1.0, batch)
            cx = px[j] + dist * np.cos(angles)
            cy = py[j] + dist * np.sin(angles)
            ok = _free(cx, cy, r, px, py, pr, gap_px, clearances, nx, ny, m, ignore=j)
            if ok.any():
                k = int(np.argmax(ok))
                found = (float(cx[k]), float(cy[k]), True)
        for _ in range(max(tries // batch, 1)):
            if found is not None:
                break
            cx = rng.uniform(m, nx - m, batch)
            cy = rng.uniform(m, ny - m, batch)
            ok = _free(cx, cy, r, px, py, pr, gap_px, clearances, nx, ny, m)
            if ok.any():
                k = int(np.argmax(ok))
                found = (float(cx[k]), float(cy[k]), False)
        if found is None:
            continue
        mine.append(len(placed))
        placed.add(found[0], found[1], r)
        out_x.append(found[0])
        out_y.append(found[1])
        out_i.append(i)
        out_t.append(found[2])
    return Placement(np.asarray(out_x), np.asarray(out_y), np.asarray(out_i, dtype=int), np.asarray(out_t, dtype=bool))


def _free(
    cx: np.ndarray,
    cy: np.ndarray,
    r: float,
    px: np.ndarray,
    py: np.ndarray,
    pr: np.ndarray,
    gap: float,
    clearances: Sequence[Clearance],
    nx: int,
    ny: int,
    margin: float,
    ignore: int | None = None,
) -> np.ndarray:
    ok = (cx >= margin) & (cx <= nx - margin) & (cy >= margin) & (cy <= ny - margin)
    if len(px):
        d2 = (cx[:, None] - px[None, :]) ** 2 + (cy[:, None] - py[None, :]) ** 2
        need = (r + pr[None, :] + gap) ** 2
        clash = d2 < need
        if ignore is not None:
            clash[:, ignore] = False
        ok &= ~clash.any(axis=1)
    for fn in clearances:
        ok &= fn(cx, cy) > r
    return ok
