"""The aggregate guard on a synthetic field: isolated discs, touching pairs, clumps of four."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cryopick.postprocess.aggregates import AggregateGuardConfig, aggregate_guard, clump_sizes, occupancy
from cryopick.detect import find_peaks

D = 16.0  # particle diameter, working pixels


def _field(seed: int = 0):
    """Image (particles dark), probability map and the kind of every disc centre."""
    rng = np.random.default_rng(seed)
    shape = (448, 448)
    centres, kinds = [], []
    grid = [(48 + 64 * i, 48 + 64 * j) for i in range(6) for j in range(6)]
    rng.shuffle(grid)
    for n, (cx, cy) in enumerate(grid):
        if n < 20:                                   # isolated
            centres += [(cx, cy)]; kinds += ["isolated"]
        elif n < 28:                                 # touching pair, one diameter apart
            a = rng.uniform(0, np.pi)
            dx, dy = 0.5 * D * np.cos(a), 0.5 * D * np.sin(a)
            centres += [(cx - dx, cy - dy), (cx + dx, cy + dy)]; kinds += ["pair", "pair"]
        else:                                        # clump of four overlapping discs, 0.6 - 0.75 d apart
            pos = [np.zeros(2)]
            for _ in range(3):
                a = rng.uniform(0, 2 * np.pi)
                pos.append(pos[int(rng.integers(len(pos)))] + rng.uniform(0.6, 0.75) * D * np.array([np.cos(a), np.sin(a)]))
            pos = np.array(pos) - np.mean(pos, axis=0)
            centres += [(cx + p[0], cy + p[1]) for p in pos]; kinds += ["clump"] * 4
    centres = np.array(centres)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = rng.normal(0.0, 0.3, shape)
    prob = np.zeros(shape)
    for cx, cy in centres:
        r2 = (xx - cx) ** 2 + (yy - cy) ** 2
        image -= np.clip(1.0 - r2 / (0.5 * D) ** 2, 0.0, None)      # a dark ball, thickest at its centre
        prob = np.maximum(prob, 0.9 * np.exp(-r2 / (2 * (0.12 * D) ** 2)))
    return image.astype(np.float32), prob.astype(np.float32), centres, np.array(kinds)


def _picks(prob, centres, kinds):
    x, y, score = find_peaks(prob, 0.5 * D, threshold=0.5)
    nearest = np.argmin(np.hypot(x[:, None] - centres[None, :, 0], y[:, None] - centres[None, :, 1]), axis=1)
    return x, y, score, kinds[nearest]


def test_guard_keeps_isolated_and_touching_and_drops_clumps():
    image, prob, centres, kinds = _field()
    x, y, score, kind = _picks(prob, centres, kinds)
    keep = aggregate_guard(image, prob, x, y, score >= 0.5, D, AggregateGuardConfig(), threshold=0.5)
    assert keep[kind == "isolated"].all()
    assert keep[kind == "pair"].all()
    assert not keep[kind == "clump"].any()  # this layout: every clump is found whole


def test_each_rule_separates_on_its_own():
    image, prob, centres, kinds = _field(1)  # another layout
    x, y, score, kind = _picks(prob, centres, kinds)
    sizes = clump_sizes(prob, x, y, 0.5, D)
    assert (sizes[kind == "isolated"] == 1).all() and (sizes[kind == "pair"] <= 2).all()
    assert (sizes[kind == "clump"] >= 2).all() and np.mean(sizes[kind == "clump"] >= 4) >= 0.6
    occupancy_only = dataclasses.replace(AggregateGuardConfig(), min_members=None)
    keep = aggregate_guard(image, prob, x, y, score >= 0.5, D, occupancy_only)
    assert keep[kind != "clump"].all()
    assert np.mean(~keep[kind == "clump"]) >= 0.5
    occ = occupancy(image, x, y, score >= 0.5, D)
    assert occ[kind == "clump"].mean() > occ[kind == "pair"].mean() > occ[kind == "isolated"].mean()


@pytest.mark.parametrize("n", [0, 5])
def test_too_few_picks_keeps_everything(n):
    image, prob, centres, kinds = _field()
    x, y, score, _ = _picks(prob, centres, kinds)
    keep = aggregate_guard(image, prob, x[:n], y[:n], np.ones(n, bool), D)
    assert keep.shape == (n,) and keep.all()
