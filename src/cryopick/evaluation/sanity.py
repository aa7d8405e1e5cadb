"""Warnings for evaluations that look like a mistake rather than a result.

A score near what random positions would get usually means the picks and the truth do
not describe the same coordinates: y counted from the other edge, names paired with the
wrong micrographs, or another pixel size. :func:`evaluation_warnings` says so in one
line with the likely fix. The commonest mistake, y flipped, is tried whenever the
micrographs' sizes are known: picks that score far better mirrored are told to pass
``--flip-y`` whatever their score.

Chance is worked out, not simulated: ``n_t`` true particles in an area ``A`` cover a
fraction ``1 - exp(-n_t * pi * r**2 / A)`` of it within the match radius ``r``
(Poisson coverage), so a pick dropped at random matches with about that probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cryopick.evaluation.metrics import Evaluation, evaluate

MIN_PICKS = 20
"""Fewer judged picks than this say too little to call a result chance."""
CHANCE_FACTOR = 2.0
"""Precision below this many times chance (or chance + ``CHANCE_MARGIN``) is called near chance."""
CHANCE_MARGIN = 0.05


def chance_precision(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float,
                     shapes: Mapping[str, tuple[int, int]] | None = None) -> float:
    """The precision that picks at random positions would get, micrograph by micrograph.

    Parameters
    ----------
    picks, truth
        Picks tables (original pixels).
    radius_px
        The match radius.
    shapes
        ``{micrograph: (ny, nx)}``; a micrograph without one is taken to span the
        positions seen on it.

    Returns
    -------
    float
        Expected matched fraction of the picks (NaN when there are none).
    """
    if not len(picks):
        return math.nan
    expected = 0.0
    truth_counts = truth["micrograph"].value_counts()
    for name, group in picks.groupby("micrograph", sort=False):
        n_truth = int(truth_counts.get(name, 0))
        if n_truth == 0:
            continue
        area = _area_px(name, group, truth.loc[truth["micrograph"] == name], shapes)
        covered = 1.0 - math.exp(-n_truth * math.pi * radius_px**2 / area)
        expected += min(len(group) * covered, n_truth)
    return expected / len(picks)


def _area_px(name: str, picks: pd.DataFrame, truth: pd.DataFrame,
             shapes: Mapping[str, tuple[int, int]] | None) -> float:
    if shapes is not None and name in shapes:
        ny, nx = shapes[name]
        return float(ny) * float(nx)
    xs = np.concatenate([picks["x"].to_numpy(np.float64), truth["x"].to_numpy(np.float64)])
    ys = np.concatenate([picks["y"].to_numpy(np.float64), truth["y"].to_numpy(np.float64)])
    return max(float(np.nanmax(xs)) + 1.0, 1.0) * max(float(np.nanmax(ys)) + 1.0, 1.0)


def evaluation_warnings(result: Evaluation, picks: pd.DataFrame, truth: pd.DataFrame,
                        shapes: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """One line for each sign that the evaluation measured a mistake, with its fix; [] when none.

    Parameters
    ----------
    result
        The evaluation of ``picks`` against ``truth``.
    picks, truth
        What was evaluated (names already matched).
    shapes
        The micrographs' sizes: with them, the picks are also tried mirrored in y.
    """
    judged = picks if result.threshold is None else picks.loc[picks["score"] >= result.threshold]
    if len(judged) < MIN_PICKS or not len(truth):
        return []
    flipped = _flipped_f1(picks, truth, result, shapes)
    if flipped is not None and flipped > max(2.0 * result.f1, result.f1 + 0.2):
        return [f"warning: mirrored in y the picks score F1 {flipped:.3f}, not {result.f1:.3f}: "
                "fix: pass --flip-y (one of the files counts rows from the bottom)"]
    chance = chance_precision(judged, truth, result.radius_px, shapes)
    if not result.precision < max(CHANCE_FACTOR * chance, chance + CHANCE_MARGIN):
        return []
    return [f"warning: precision {result.precision:.3f} is near what random positions would get ({chance:.3f}): "
            "fix: check that y counts rows from the same edge (--flip-y), that the names pair the right "
            "micrographs and that both files use the same pixel size"]


def _flipped_f1(picks: pd.DataFrame, truth: pd.DataFrame, result: Evaluation,
                shapes: Mapping[str, tuple[int, int]] | None) -> float | None:
    """F1 of the picks mirrored in y, when every picked micrograph's size is known."""
    if shapes is None or not set(picks["micrograph"]) <= set(shapes):
        return None
    from cryopick.io.coords import mirror_y

    return evaluate(mirror_y(picks, shapes), truth, result.radius_px, result.threshold).f1
