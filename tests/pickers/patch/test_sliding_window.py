"""Sliding-window detection: window layout, local maxima, thresholds, coordinates."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cryopick.io.micrographs import Micrograph
from cryopick.models.checkpoint import LoadedModel
from cryopick.pickers.patch.patches import PatchConfig
from cryopick.pickers.patch.sliding_window import SlidingWindowConfig, pick_sliding_window, window_centres, window_scores


class CentreDarkness(nn.Module):
    """A stand-in classifier: logit = how much darker the window's centre is than its rim.

    Its score peaks where a window is centred on a dark particle, like a trained one.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 64, 64)
        centre = x[:, 24:40, 24:40].mean(dim=(1, 2))
        rim = torch.cat([x[:, :8].reshape(x.shape[0], -1), x[:, -8:].reshape(x.shape[0], -1)], 1).mean(1)
        return (10.0 * (rim - centre) - 2.0).unsqueeze(1)  # not saturated: no ties at 1.0


def loaded(diameter_A: float = 100.0, threshold: float = 0.8) -> LoadedModel:
    return LoadedModel(
        model=CentreDarkness().eval(),
        kind="test",
        arch={},
        diameter_A=diameter_A,
        threshold=threshold,
        settings={"patch_config": asdict(PatchConfig()), "stride_fraction": 0.2},
    )


def field_with_discs(shape: tuple[int, int], centres: list[tuple[float, float]], diameter_px: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.random.default_rng(0).normal(0.0, 0.05, shape).astype(np.float32) + 1.0
    for x, y in centres:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= (diameter_px / 2) ** 2] -= 0.5
    return image


def test_window_centres_lie_inside_at_the_stride() -> None:
    centres = window_centres(200, 64, 12.8)
    assert centres[0] == 32 and centres[-1] + 32 <= 200
    assert set(np.diff(centres)) <= {12.0, 13.0}  # whole pixels
    assert np.mean(np.diff(centres)) == pytest.approx(12.8, abs=0.1)
    assert window_centres(63, 64, 12.8).size == 0


def test_every_window_is_scored_and_the_best_is_on_the_particle() -> None:
    image = np.ones((300, 400), np.float32)
    image[140:170, 250:280] = 0.0  # a dark square centred at x = 265, y = 155 (working px)
    scores, cx, cy = window_scores(image, loaded(), stride_px=12.8, device=torch.device("cpu"))
    assert scores.shape == (cy.size, cx.size)
    iy, ix = np.unravel_index(np.argmax(scores), scores.shape)
    assert abs(cx[ix] - 265) <= 7 and abs(cy[iy] - 155) <= 7


def test_picks_land_on_particles_in_original_pixels_on_a_non_square_micrograph() -> None:
    # 2 Å/px, 100 Å particles = 50 px; the patch scale makes them 47.4 px (box 64).
    centres = [(150.0, 120.0), (420.0, 300.0), (700.0, 180.0)]
    image = field_with_discs((420, 900), centres, diameter_px=50.0)
    mic = Micrograph("m", Path("m.mrc"), image, 2.0)
    picks = pick_sliding_window(mic, loaded(), None, SlidingWindowConfig())
    assert len(picks) == len(centres)
    assert (picks["micrograph"] == "m").all() and (picks["score"] >= 0.8).all()
    found = picks[["x", "y"]].to_numpy()
    for x, y in centres:
        # within one stride (0.2 box = 0.27 diameter = 13.5 original px)
        assert np.min(np.hypot(found[:, 0] - x, found[:, 1] - y)) <= 14.0
    np.testing.assert_allclose(picks["diameter_px"], 50.0)


def test_neighbouring_windows_do_not_both_become_picks() -> None:
    image = field_with_discs((400, 400), [(200.0, 200.0)], diameter_px=50.0)
    mic = Micrograph("m", Path("m.mrc"), image, 2.0)
    picks = pick_sliding_window(mic, loaded(), None, SlidingWindowConfig(threshold=0.5))
    assert len(picks) == 1


def test_threshold_and_keep_all() -> None:
    image = field_with_discs((400, 600), [(200.0, 200.0), (420.0, 220.0)], diameter_px=50.0)
    mic = Micrograph("m", Path("m.mrc"), image, 2.0)
    strict = pick_sliding_window(mic, loaded(), None, SlidingWindowConfig(threshold=0.999999))
    default = pick_sliding_window(mic, loaded(threshold=0.8), None, SlidingWindowConfig())
    everything = pick_sliding_window(mic, loaded(), None, SlidingWindowConfig(threshold=0.0))
    assert len(strict) <= len(default) < len(everything)
    assert everything["score"].is_monotonic_decreasing


def test_a_different_diameter_rescales_the_micrograph() -> None:
    # The same particles picked by a model trained at 100 Å, told they are 200 Å:
    # the micrograph is downsampled twice as much, and picks still land on them.
    centres = [(300.0, 300.0), (800.0, 500.0)]
    image = field_with_discs((800, 1100), centres, diameter_px=100.0)
    mic = Micrograph("m", Path("m.mrc"), image, 2.0)
    picks = pick_sliding_window(mic, loaded(diameter_A=100.0), 200.0, SlidingWindowConfig())
    found = picks[["x", "y"]].to_numpy()
    assert len(picks) == 2
    for x, y in centres:
        assert np.min(np.hypot(found[:, 0] - x, found[:, 1] - y)) <= 28.0


def test_micrograph_smaller_than_a_box_gives_no_picks() -> None:
    # 60 px holds a 50 px particle but not its 67.5 px box: no window fits.
    noise = np.random.default_rng(1).normal(size=(60, 60)).astype(np.float32)
    mic = Micrograph("m", Path("m.mrc"), noise, 2.0)
    assert len(pick_sliding_window(mic, loaded(diameter_A=100.0), None)) == 0


def test_bad_stride_is_a_clear_error() -> None:
    from cryopick.errors import CryopickError

    mic = Micrograph("m", Path("m.mrc"), np.ones((300, 300), np.float32), 2.0)
    with pytest.raises(CryopickError, match="stride"):
        pick_sliding_window(mic, loaded(), None, SlidingWindowConfig(stride_fraction=1.5))
