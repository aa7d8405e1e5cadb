"""cryopick.simulate.layout: discs placed inside, apart, at the requested density, touching in crowded ice."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.simulate.layout import Discs, place_discs
from tests.simulate.conftest import simulate, small


@pytest.mark.parametrize("fraction", [0.03, 0.15, 0.35])
def test_particles_inside_not_overlapping_at_the_requested_density(fraction: float) -> None:
    config = small(shape=(384, 384), particle_area_fraction=fraction, touching_fraction=0.0)
    objects = simulate(config).objects
    p = objects.loc[objects["kind"] == "particle"]
    assert len(p) > 0
    assert (p["x"] >= 0).all() and (p["x"] < 384).all() and (p["y"] >= 0).all() and (p["y"] < 384).all()
    xy = p[["x", "y"]].to_numpy()
    r = 0.5 * p["diameter_px"].to_numpy()
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(dist, np.inf)
    assert (dist >= (r[:, None] + r[None, :]) - 1.0).all()  # 1 px: centres rounded to pixels
    area = float((np.pi * r**2).sum()) / (384 * 384)
    assert area == pytest.approx(fraction, rel=0.25)


def test_crowded_mode_places_touching_pairs() -> None:
    config = small(shape=(384, 384), particle_area_fraction=0.35, touching_fraction=0.5)
    p = simulate(config).objects.query("kind == 'particle'")
    touching = p.loc[p["touching"]]
    assert len(touching) >= 0.2 * len(p)
    xy = p[["x", "y"]].to_numpy()
    d = p["diameter_px"].to_numpy()
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(dist, np.inf)
    nearest = (dist / (0.5 * (d[:, None] + d[None, :]))).min(axis=1)
    assert np.median(nearest[p["touching"].to_numpy()]) < 1.02  # in contact
    assert nearest.min() > 0.8  # touching, never on top of each other


def test_place_discs_respects_obstacles_and_forbidden_regions() -> None:
    rng = np.random.default_rng(0)
    placed = Discs()
    placed.add(100, 100, 40)
    forbidden = [lambda x, y: 150.0 - x]  # x > 150 is forbidden
    out = place_discs(rng, (200, 300), np.full(50, 8.0), placed, clearances=forbidden)
    assert len(out.x) > 5
    assert (out.x + 8.0 < 150.0).all()
    assert (np.hypot(out.x - 100, out.y - 100) >= 48.0).all()
