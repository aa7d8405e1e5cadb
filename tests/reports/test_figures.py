"""Tests for cryopick.reports.figures: overlay and precision-recall pictures."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from cryopick.errors import CryopickError
from cryopick.evaluation.metrics import evaluate
from cryopick.io.picks import make_picks
from cryopick.reports.figures import display_bin, display_range, plot_overlay, plot_pr_curve


def _rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _ring_hits(rgb: np.ndarray, cx: float, cy: float, r: float, want) -> float:
    """Fraction of points around a ring where some pixel within 2 px has the wanted colour."""
    hits = 0
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    for a in angles:
        x, y = round(cx + r * np.cos(a)), round(cy + r * np.sin(a))
        patch = rgb[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3].reshape(-1, 3)
        hits += bool(np.any([want(*px) for px in patch]))
    return hits / len(angles)


def _cyan(r, g, b):
    return b - r > 100 and g - r > 100


def _green(r, g, b):
    return g > 150 and r < 120 and b < 120


def _red(r, g, b):
    return r > 180 and g < 100 and b < 100


def _yellow(r, g, b):
    return r > 180 and g > 160 and b < 90


def _background(ny: int, nx: int) -> np.ndarray:
    """A smooth gradient: grey, so coloured circles stand out, and not blank."""
    yy, xx = np.mgrid[0:ny, 0:nx]
    return (xx + 0.5 * yy).astype(np.float32)


def test_display_bin_block_means_and_ignores_nan():
    image = np.arange(36, dtype=np.float32).reshape(6, 6)
    binned, factor = display_bin(image, 3)
    assert factor == 2 and binned.shape == (3, 3)
    assert binned[0, 0] == pytest.approx(np.mean([0, 1, 6, 7]))
    image[0, 0] = np.nan
    binned, _ = display_bin(image, 3)
    assert binned[0, 0] == pytest.approx(np.mean([1, 6, 7]))
    odd, factor = display_bin(np.ones((7, 10)), 4)  # factor 3: leftover rows/columns dropped
    assert factor == 3 and odd.shape == (2, 3)


def test_overlay_on_non_square_image_draws_circle_where_the_pick_is(tmp_path):
    ny, nx = 300, 500
    picks = make_picks("m", [100.0], [200.0], diameter_px=40.0)
    path = plot_overlay(_background(ny, nx), tmp_path / "o.png", picks=picks)
    rgb = _rgb(path)
    assert rgb.shape == (480, 800, 3)  # enlarged to an 800 px long side, aspect kept
    scale = 800 / nx
    cx, cy, r = (100 + 0.5) * scale, (200 + 0.5) * scale, 20 * scale
    assert _ring_hits(rgb, cx, cy, r, _cyan) > 0.9
    assert _ring_hits(rgb, cx, cy, r / 2, _cyan) == 0.0  # hollow circle
    assert _ring_hits(rgb, (200 + 0.5) * scale, (100 + 0.5) * scale, r, _cyan) == 0.0  # not transposed
    # The image itself is not flipped: the gradient grows to the right and downwards.
    grey = rgb.sum(axis=2)
    assert grey[100, 100] < grey[380, 100] < grey[100, 700] < grey[380, 700]
    assert not list(tmp_path.glob("*.part"))


def test_overlay_colours_matched_false_and_missed(tmp_path):
    ny, nx = 400, 600
    truth = make_picks("m", [100.0, 300.0], [300.0, 300.0])
    picks = make_picks("m", [103.0, 500.0], [300.0, 150.0], score=[0.9, 0.8])
    path = plot_overlay(_background(ny, nx), tmp_path / "o.png", picks=picks, truth=truth,
                        diameter_px=50.0, title="m")
    rgb = _rgb(path)
    assert rgb.shape == (800 * ny // nx + 30, 800, 3)  # 30 px title band on top
    scale, top, r = 800 / nx, 30, 25 * 800 / nx

    def at(x, y):
        return (x + 0.5) * scale, (y + 0.5) * scale + top

    assert _ring_hits(rgb, *at(103, 300), r, _green) > 0.9
    assert _ring_hits(rgb, *at(500, 150), r, _red) > 0.9
    assert _ring_hits(rgb, *at(300, 300), r, _yellow) > 0.5  # dashed
    assert _ring_hits(rgb, *at(500, 150), r, _green) == 0.0


def test_overlay_of_big_image_is_binned_and_not_blank(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3000, 2000)).astype(np.float32)
    image[:10, :10] = np.nan
    picks = make_picks("m", rng.uniform(0, 2000, 300), rng.uniform(0, 3000, 300), diameter_px=80.0)
    path = plot_overlay(image, tmp_path / "big.png", picks=picks, truth=picks.iloc[:200], max_side_px=1000)
    rgb = _rgb(path)
    assert rgb.shape[0] == 1000 and abs(rgb.shape[1] - 666) <= 1
    assert rgb.std() > 10


def test_overlay_needs_a_size(tmp_path):
    with pytest.raises(CryopickError, match="how big"):
        plot_overlay(np.zeros((50, 50)), tmp_path / "o.png", picks=make_picks("m", [1.0], [1.0]))
    with pytest.raises(CryopickError, match="2D"):
        plot_overlay(np.zeros((5, 5, 5)), tmp_path / "o.png")


def test_pr_curve_png(tmp_path):
    rng = np.random.default_rng(1)
    truth = make_picks("m", rng.uniform(0, 1000, 100), rng.uniform(0, 1000, 100))
    picks = truth.copy()
    picks["score"] = rng.random(100)
    picks.loc[:40, "x"] += 50.0
    curves = {"noisy": evaluate(picks, truth, 10.0).curve, "perfect": evaluate(truth, truth, 10.0).curve,
              "none": evaluate(picks.iloc[:0], truth, 10.0).curve}
    path = plot_pr_curve(curves, tmp_path / "sub" / "pr.png", title="PR")
    rgb = _rgb(path)
    assert rgb.shape == (560, 700, 3)
    blue = (np.abs(rgb - [31, 119, 180]).sum(axis=2) < 40).sum()  # matplotlib C0, the first curve
    assert blue > 200
    assert (rgb.sum(axis=2) < 200).sum() > 500  # axes, ticks and text drawn


def test_an_ice_blob_does_not_take_the_contrast():
    """Issue 17: one ice blob could take all the contrast of a thumbnail (1-99 percentile range)."""
    rng = np.random.default_rng(0)
    image = rng.normal(size=(300, 500))
    image[:80, :120] -= 40.0  # a dark blob on 6% of the micrograph
    low, high = display_range(image)
    assert -3.5 < low < -2.5 and 2.5 < high < 3.5  # the noise around the particles keeps its greys
    assert display_range(np.full((4, 4), 2.0)) == (1.5, 2.5)
    assert display_range(np.full((4, 4), np.nan)) == (0.0, 1.0)
