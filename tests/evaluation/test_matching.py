"""Tests for cryopick.evaluation.matching: one-to-one matching within a radius."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.evaluation.matching import match

def _brute_best(p: np.ndarray, t: np.ndarray, r: float) -> tuple[int, float]:
    """(most pairs, least total distance at that count) within r, trying every assignment."""
    d = np.hypot(p[:, None, 0] - t[None, :, 0], p[:, None, 1] - t[None, :, 1])
    if len(p) > len(t):
        d = d.T
    best = (0, 0.0)
    for perm in itertools.permutations(range(d.shape[1]), d.shape[0]):
        pairs = [d[i, j] for i, j in enumerate(perm) if d[i, j] <= r]
        if (len(pairs), -sum(pairs)) > (best[0], -best[1]):
            best = (len(pairs), float(sum(pairs)))
    return best


def _brute_max_matching(p: np.ndarray, t: np.ndarray, r: float) -> int:
    return _brute_best(p, t, r)[0] if len(p) and len(t) else 0


def _greedy_nearest(p: np.ndarray, t: np.ndarray, r: float) -> int:
    """Greedy: repeatedly take the globally nearest free pair within r."""
    d = np.hypot(p[:, None, 0] - t[None, :, 0], p[:, None, 1] - t[None, :, 1])
    d[d > r] = np.inf
    n = 0
    while np.isfinite(d).any():
        i, j = np.unravel_index(np.argmin(d), d.shape)
        d[i, :] = np.inf
        d[:, j] = np.inf
        n += 1
    return n


# ------------------------------------------------------------------------- match


def test_match_hungarian_beats_greedy_nearest():
    truth = np.array([[0.0, 0.0], [10.0, 0.0]])
    picks = np.array([[6.0, 0.0], [15.0, 0.0]])  # pick 0 is nearest truth 1, but must take truth 0
    assert _greedy_nearest(picks, truth, 7.0) == 1
    mp, mt = match(picks, truth, 7.0)
    assert sorted(zip(mp.tolist(), mt.tolist())) == [(0, 0), (1, 1)]


def test_match_one_to_one_two_picks_near_one_truth():
    mp, mt = match([[1.0, 0.0], [0.0, 2.0]], [[0.0, 0.0]], 5.0)
    assert mp.tolist() == [0] and mt.tolist() == [0]  # the nearer pick wins, the other is a FP


def test_match_prefers_higher_score_then_distance():
    picks = [[1.0, 0.0], [0.0, 2.0]]
    mp, _ = match(picks, [[0.0, 0.0]], 5.0, scores=[0.1, 0.9])
    assert mp.tolist() == [1]  # higher score beats nearer


def test_match_radius_is_inclusive_and_strict_beyond():
    mp, _ = match([[3.0, 4.0]], [[0.0, 0.0]], 5.0)
    assert mp.tolist() == [0]
    mp, _ = match([[3.0, 4.001]], [[0.0, 0.0]], 5.0)
    assert mp.size == 0


def test_match_is_maximum_on_random_small_cases():
    rng = np.random.default_rng(1)
    for _ in range(150):
        p = rng.uniform(0, 30, (rng.integers(1, 6), 2))
        t = rng.uniform(0, 30, (rng.integers(1, 6), 2))
        scores = rng.integers(0, 3, len(p)).astype(float)
        mp, mt = match(p, t, 9.0, scores)
        assert len(set(mp.tolist())) == mp.size and len(set(mt.tolist())) == mt.size
        assert np.all(np.hypot(*(p[mp] - t[mt]).T) <= 9.0)
        assert mp.size == _brute_max_matching(p, t, 9.0)
        for level in np.unique(scores):  # higher scores first: optimal at every threshold
            top = scores >= level
            assert np.sum(top[mp]) == _brute_max_matching(p[top], t, 9.0)
        mp, mt = match(p, t, 9.0)  # unscored: least total distance among maximum matchings
        assert np.hypot(*(p[mp] - t[mt]).T).sum() == pytest.approx(_brute_best(p, t, 9.0)[1])


def test_match_prefers_smaller_total_distance():
    # Both assignments match 2 pairs; the crossing one is longer.
    picks = np.array([[0.0, 0.0], [4.0, 0.0]])
    truth = np.array([[1.0, 0.0], [5.0, 0.0]])
    mp, mt = match(picks, truth, 10.0)
    assert dict(zip(mp.tolist(), mt.tolist())) == {0: 0, 1: 1}


def test_match_empty_inputs_and_bad_radius():
    assert match(np.zeros((0, 2)), [[0.0, 0.0]], 3.0)[0].size == 0
    assert match([[0.0, 0.0]], np.zeros((0, 2)), 3.0)[0].size == 0
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(CryopickError, match="radius"):
            match([[0.0, 0.0]], [[0.0, 0.0]], bad)


def test_match_is_one_to_one_on_a_dense_thousand_by_thousand():
    rng = np.random.default_rng(2)
    p, t = rng.uniform(0, 400, (1000, 2)), rng.uniform(0, 400, (1000, 2))
    mp, mt = match(p, t, 20.0, rng.random(1000))  # its speed: benchmarks/bench_speed.py
    assert len(set(mt.tolist())) == mt.size and mp.size > 900
