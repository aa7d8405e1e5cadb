"""Tests for cryopick.pickers.log: quality on synthetic fields, scale invariance, mapping, guards."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import PICK_COLUMNS, validate_picks
from cryopick.pickers.log import (
    KEEP_ALL,
    LoGConfig,
    band_diameters,
    log_responses,
    log_score_map,
    pick_log,
)
from cryopick.preprocess import fourier_crop

# --- a synthetic field: dark projected spheres in Gaussian noise -----------------------


def render_spheres(shape: tuple[int, int], xs, ys, diameter_px: float, contrast: float) -> np.ndarray:
    """Projections of uniform spheres: depth ``contrast * sqrt(1 - (rho / r)^2)`` (dark)."""
    radius = diameter_px / 2
    image = np.zeros(shape, dtype=np.float64)
    half = math.ceil(radius) + 1
    for x, y in zip(xs, ys):
        x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, shape[1])
        y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, shape[0])
        yy, xx = np.mgrid[y0:y1, x0:x1]
        rho2 = ((xx - x) ** 2 + (yy - y) ** 2) / radius**2
        image[y0:y1, x0:x1] -= contrast * np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    return image


def random_positions(rng: np.random.Generator, shape: tuple[int, int], n: int, diameter_px: float,
                     min_sep: float = 1.05, margin: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` non-overlapping centres (random sequential placement)."""
    pts: list[np.ndarray] = []
    lo = margin * diameter_px
    for _ in range(200 * n):
        p = rng.uniform([lo, lo], [shape[1] - lo, shape[0] - lo])
        if not pts or np.min(np.hypot(*(np.array(pts) - p).T)) >= min_sep * diameter_px:
            pts.append(p)
            if len(pts) == n:
                break
    arr = np.array(pts)
    return arr[:, 0], arr[:, 1]


def synthetic_field(seed: int = 0, shape: tuple[int, int] = (1024, 1024), n: int = 100, diameter_px: float = 75.0,
                    contrast: float = 0.25, noise: float = 1.0):
    """A float32 micrograph (mean 100) with ``n`` dark particles; returns (image, x, y)."""
    rng = np.random.default_rng(seed)
    xs, ys = random_positions(rng, shape, n, diameter_px)
    image = 100.0 + render_spheres(shape, xs, ys, diameter_px, contrast) + rng.normal(0.0, noise, shape)
    return image.astype(np.float32), xs, ys


def precision_recall(picks: pd.DataFrame, tx: np.ndarray, ty: np.ndarray, radius: float) -> tuple[float, float]:
    """One-to-one matching within ``radius``, closest pairs first."""
    if len(picks) == 0:
        return 0.0, 0.0
    px, py = picks["x"].to_numpy(), picks["y"].to_numpy()
    pairs = cKDTree(np.column_stack([px, py])).sparse_distance_matrix(
        cKDTree(np.column_stack([tx, ty])), radius, output_type="ndarray")
    used_p: set[int] = set()
    used_t: set[int] = set()
    for i, j, _ in sorted(pairs.tolist(), key=lambda r: r[2]):
        if int(i) not in used_p and int(j) not in used_t:
            used_p.add(int(i))
            used_t.add(int(j))
    return len(used_p) / len(px), len(used_t) / len(tx)


def micrograph(image: np.ndarray, apix: float, name: str = "synth") -> Micrograph:
    return Micrograph(name, Path(f"/data/{name}.mrc"), image, apix)


# --- quality ---------------------------------------------------------------------------


def test_picks_a_synthetic_field_with_high_precision_and_recall():
    # 1024^2 at 2 Å/px, 150 Å particles (75 px), 100 of them covering ~40 % of the area,
    # peak contrast 0.2 of the per-pixel noise. Crowding is what a MAD-based score
    # normalisation gets wrong (recall 0.88 here at the automatic cut).
    image, tx, ty = synthetic_field(seed=1, n=100, contrast=0.2)
    assert len(tx) >= 90
    picks = pick_log(micrograph(image, 2.0), 150.0)  # automatic threshold
    precision, recall = precision_recall(picks, tx, ty, radius=75.0 / 2)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, len(picks))
    validate_picks(picks)
    assert list(picks.columns[:5]) == list(PICK_COLUMNS)
    assert (picks["micrograph"] == "synth").all()
    np.testing.assert_allclose(picks["diameter_px"], 75.0)
    assert picks["score"].is_monotonic_decreasing
    assert (picks["score"] >= LoGConfig().auto_threshold).all()


def test_scores_rank_particles_above_noise_in_a_sparse_field():
    image, tx, ty = synthetic_field(seed=2, n=25, contrast=0.2)
    picks = pick_log(micrograph(image, 2.0), 150.0, LoGConfig(threshold=KEEP_ALL))
    assert len(picks) > len(tx)  # noise peaks are kept too...
    top = picks.head(len(tx))  # ...but rank below the particles
    precision, recall = precision_recall(top, tx, ty, radius=37.5)
    assert precision >= 0.95 and recall >= 0.95


def test_same_field_at_two_pixel_sizes_gives_the_same_picks_in_angstrom():
    rng = np.random.default_rng(3)
    shape_fine = (1600, 2000)  # 1 Å/px
    xs, ys = random_positions(rng, shape_fine, 60, 150.0)
    clean = render_spheres(shape_fine, xs, ys, 150.0, 0.5)
    fine = (100 + clean + rng.normal(0, 2.0, shape_fine)).astype(np.float32)
    coarse_clean = fourier_crop(clean, 2.0)  # the same specimen at 2 Å/px, independent noise
    coarse = (100 + coarse_clean + rng.normal(0, 1.0, coarse_clean.shape)).astype(np.float32)
    picks_fine = pick_log(micrograph(fine, 1.0, "fine"), 150.0)
    picks_coarse = pick_log(micrograph(coarse, 2.0, "coarse"), 150.0)
    a = picks_fine[["x", "y"]].to_numpy() * 1.0
    b = picks_coarse[["x", "y"]].to_numpy() * 2.0
    for found in (a, b):
        precision, recall = precision_recall(pd.DataFrame(found, columns=["x", "y"]), xs, ys, 75.0)
        assert precision >= 0.95 and recall >= 0.95
    dist, nearest = cKDTree(b).query(a)
    assert np.mean(dist < 15.0) >= 0.95  # within a tenth of the diameter, in Å
    assert np.median(dist) < 9.0  # independent noise: each pick is off by ~4 Å (measured)
    offset = (a - b[nearest])[dist < 15.0].mean(axis=0)
    assert np.all(np.abs(offset) < 1.5)  # and no systematic shift between the two pixel sizes


def test_non_square_micrograph_keeps_axes_apart():
    image, tx, ty = synthetic_field(seed=4, shape=(700, 1400), n=50, contrast=0.3)
    assert tx.max() > 900  # particles exist beyond the short axis' length
    picks = pick_log(micrograph(image, 2.0), 150.0)
    precision, recall = precision_recall(picks, tx, ty, 37.5)
    assert precision >= 0.9 and recall >= 0.9
    assert picks["x"].max() > 900 and picks["y"].max() < 700


@pytest.mark.parametrize("apix", [0.66, 1.3, 2.0, 4.0])
def test_a_particle_at_a_known_position_is_found_within_2_px(apix):
    dpx = 150.0 / apix
    shape = (int(6 * dpx), int(9 * dpx) + 7)
    x0, y0 = 0.41 * shape[1] + 0.37, 0.55 * shape[0] + 0.71
    rng = np.random.default_rng(5)
    image = (100 + render_spheres(shape, [x0], [y0], dpx, 1.0) + rng.normal(0, 0.3, shape)).astype(np.float32)
    picks = pick_log(micrograph(image, apix), 150.0)
    best = picks.iloc[0]
    assert abs(best["x"] - x0) <= 2.0 and abs(best["y"] - y0) <= 2.0
    assert best["diameter_px"] == pytest.approx(dpx)


# --- guards, threshold, configuration --------------------------------------------------


def test_larger_dark_blobs_are_rejected_but_particles_kept():
    rng = np.random.default_rng(6)
    shape = (1024, 1024)
    bx, by = random_positions(rng, shape, 6, 300.0, min_sep=1.0)  # aggregates, 2x the particle size
    blobs = render_spheres(shape, bx, by, 150.0, 0.3)
    px, py = [], []
    for _ in range(5000):  # particles away from the blobs and each other
        p = rng.uniform(45, 979, 2)
        far_from_blobs = np.min(np.hypot(bx - p[0], by - p[1])) > 160
        if far_from_blobs and (not px or np.min(np.hypot(np.array(px) - p[0], np.array(py) - p[1])) > 82):
            px.append(p[0])
            py.append(p[1])
        if len(px) == 35:
            break
    tx, ty = np.array(px), np.array(py)
    image = (100 + blobs + render_spheres(shape, tx, ty, 75.0, 0.3) + rng.normal(0, 1, shape)).astype(np.float32)
    mic = micrograph(image, 2.0)

    def on_blobs(picks: pd.DataFrame) -> int:
        return int((cKDTree(np.column_stack([bx, by])).query(picks[["x", "y"]].to_numpy())[0] < 75).sum())

    guarded = pick_log(mic, 150.0)
    unguarded = pick_log(mic, 150.0, LoGConfig(reject_larger=False))
    assert on_blobs(unguarded) >= 4  # LoG alone fires on the aggregates...
    assert on_blobs(guarded) <= 1  # ...the larger-size guard drops them
    assert precision_recall(guarded, tx, ty, 37.5)[1] >= 0.95


def test_far_stronger_dark_junk_of_particle_size_is_dropped():
    # Dense dots (gold, ferritin) and ice rims answer the LoG many times more strongly
    # than any weak-phase particle; without the outlier guard they are the top picks.
    image, tx, ty = synthetic_field(seed=5, n=40, contrast=0.2)
    grid = np.stack(np.meshgrid(np.arange(80, 950, 40.0), np.arange(80, 950, 40.0)), -1).reshape(-1, 2)
    clear = np.min(np.hypot(grid[:, None, 0] - tx, grid[:, None, 1] - ty), axis=1) > 90
    dots = grid[clear][np.random.default_rng(5).permutation(int(clear.sum()))]
    chosen: list[np.ndarray] = []
    for dot in dots:  # well apart from each other too
        if all(np.hypot(*(dot - c)) > 120 for c in chosen):
            chosen.append(dot)
        if len(chosen) == 6:
            break
    dx, dy = np.array(chosen).T
    image += render_spheres(image.shape, dx, dy, 30.0, 8.0).astype(np.float32)  # small and very dark
    mic = micrograph(image, 2.0)
    guarded = pick_log(mic, 150.0)
    unguarded = pick_log(mic, 150.0, LoGConfig(outlier_spreads=None))
    on_dots = lambda picks: int(  # noqa: E731
        (np.min(np.hypot(picks["x"].to_numpy()[:, None] - dx, picks["y"].to_numpy()[:, None] - dy), axis=1) < 20).sum()
    )
    assert on_dots(unguarded) >= len(dx) - 1  # the guard is what removes them
    assert on_dots(guarded) == 0
    assert precision_recall(guarded, tx, ty, 37.5)[1] == precision_recall(unguarded, tx, ty, 37.5)[1]


def test_outlier_guard_keeps_every_particle_in_a_sparse_field():
    # Few particles among many noise peaks: the population is the upper half, so the
    # noise does not pull the centre down and real particles are not cut as outliers.
    for seed in range(3):
        image, tx, ty = synthetic_field(seed=10 + seed, n=8, contrast=0.25)
        picks = pick_log(micrograph(image, 2.0), 150.0)
        assert precision_recall(picks, tx, ty, 37.5)[1] == 1.0


def test_threshold_modes():
    image, _, _ = synthetic_field(seed=7, n=30, contrast=0.3)
    mic = micrograph(image, 2.0)
    auto = pick_log(mic, 150.0)
    everything = pick_log(mic, 150.0, LoGConfig(threshold=KEEP_ALL))
    strict = pick_log(mic, 150.0, LoGConfig(threshold=6.0))
    capped = pick_log(mic, 150.0, LoGConfig(threshold=KEEP_ALL, max_picks=10))
    upper = pick_log(mic, 150.0, LoGConfig(max_score=6.0))
    assert len(strict) < len(auto) < len(everything)
    assert (strict["score"] >= 6.0).all() and everything["score"].min() < LoGConfig().auto_threshold
    assert everything["score"].is_monotonic_decreasing
    pd.testing.assert_frame_equal(capped, everything.head(10))
    assert (upper["score"] <= 6.0).all() and len(upper) == len(auto) - int((auto["score"] > 6.0).sum())


def test_empty_result_is_a_valid_picks_table():
    image = np.random.default_rng(8).normal(100, 1, (400, 400)).astype(np.float32)
    picks = pick_log(micrograph(image, 2.0), 150.0, LoGConfig(threshold=1e6))
    assert picks.empty and list(picks.columns) == list(PICK_COLUMNS)


def test_bad_input_is_a_cryopick_error():
    image = np.random.default_rng(9).normal(100, 1, (300, 300)).astype(np.float32)
    with pytest.raises(CryopickError, match="larger than the micrograph"):
        pick_log(micrograph(image, 2.0), 1000.0)
    image[5, 5] = np.nan
    with pytest.raises(CryopickError, match="NaN"):
        pick_log(micrograph(image, 2.0), 150.0)
    with pytest.raises(CryopickError):
        LoGConfig(size_range=(1.1, 1.3))
    with pytest.raises(CryopickError):
        LoGConfig(min_distance_diameters=0)


# --- the LoG filter itself -------------------------------------------------------------


def test_log_responds_most_at_the_particle_diameter_and_only_to_dark_blobs():
    shape = (200, 200)
    dark = render_spheres(shape, [100.0], [100.0], 30.0, 1.0)
    sizes = 30.0 * np.array([0.5, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0])
    centre = log_responses(dark, sizes)[:, 100, 100]
    assert centre.argmax() in (2, 3, 4)  # best within 0.85-1.2x of the true diameter
    assert centre.max() > 0
    score = log_score_map(dark, 30.0)
    assert np.unravel_index(np.argmax(score), shape) == (100, 100)
    bright = log_score_map(-dark, 30.0)
    assert bright[100, 100] < np.median(bright)  # a bright blob is not a particle


def test_band_diameters():
    np.testing.assert_allclose(band_diameters(24.0), 24.0 * np.geomspace(0.8, 1.25, 5))
    np.testing.assert_allclose(band_diameters(10.0, (1.0, 1.0), 3), [10.0])


# --- real data (skipped where ../shared/data is absent) --------------------------------


def test_a_real_micrograph_is_picked(shared_data: Path):
    mrcfile = pytest.importorskip("mrcfile")
    path = shared_data / "real-micrographs-unlabeled" / "epu2.9_example.mrc"
    with mrcfile.open(path, permissive=True) as mrc:
        data = np.asarray(mrc.data, dtype=np.float32)
        apix = float(mrc.voxel_size.x)
    mic = Micrograph(path.stem, path, data, apix)
    picks = pick_log(mic, 150.0)  # its speed: benchmarks/bench_speed.py
    # a crowded micrograph of ~100-150 Å particles: 225 px at 0.667 Å/px, so at most ~330 fit
    assert 80 <= len(picks) <= 330
    assert picks["x"].between(0, 4095).all() and picks["y"].between(0, 4095).all()
    xy = picks[["x", "y"]].to_numpy()
    assert np.min(cKDTree(xy).query(xy, k=2)[0][:, 1]) >= 0.8 * 150 / apix - 2 * 9.4
