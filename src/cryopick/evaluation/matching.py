"""One-to-one matching of picks to true particles within a radius.

Matching rule (see ``docs/evaluation.md``)
------------------------------------------
Within each micrograph a pick and a true particle may be paired only if their centres
are at most ``radius_px`` apart, and each pick and each truth is used at most once. Among
all such one-to-one matchings cryopick takes, in this order of priority,

1. one with the most pairs (a maximum-cardinality matching);
2. among those, one whose matched picks score highest (a lexicographic preference for
   the highest-scoring picks, i.e. the greedy basis of the transversal matroid);
3. among those, one with the smallest total centre distance.

Rule 2 makes the score sweep exact: for *every* threshold ``t`` the matched picks with
score ``>= t`` form a maximum matching of the picks scoring ``>= t``. So the curve's
number of true positives at ``t`` is the same as evaluating at ``threshold=t``, and
lowering the threshold never un-matches a truth (recall is non-decreasing).

The match radius, when no size is given, is half the truth's typical diameter, else half
the picks' (:func:`default_radius_px`): the one rule of ``cryopick evaluate``,
``cryopick pick --truth`` and the report page.

It is solved with the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`)
separately on each connected component of the "within radius" graph, found with a
:class:`scipy.spatial.cKDTree`, so large datasets evaluate in seconds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.io.picks import typical_diameter_px


def _rank_weights(scores: np.ndarray) -> np.ndarray:
    """Dense integer ranks, 1 for the lowest score; NaN ranks below every number."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    _, inverse = np.unique(s, return_inverse=True)
    return inverse.astype(np.float64).ravel() + 1.0


def _local_index(
    comp: np.ndarray, weight: np.ndarray | None, nodes: np.ndarray, n_total: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index nodes within their component, all components at once.

    Returns ``local`` and ``rank`` (arrays of length ``n_total`` indexed by node: position
    within the component, and dense integer rank of ``weight`` within it, 1 = lowest), the
    nodes sorted by component, and the start of each component in that order (plus end).
    """
    keys = (comp,) if weight is None else (weight, comp)
    order = np.lexsort(keys)
    c = comp[order]
    new_comp = np.r_[True, c[1:] != c[:-1]]
    pos = np.arange(c.size)
    first = np.maximum.accumulate(np.where(new_comp, pos, 0))
    local = np.zeros(n_total, dtype=np.int64)
    local[nodes[order]] = pos - first
    rank = np.zeros(n_total)
    if weight is not None:
        w = weight[order]
        dense = np.cumsum(new_comp | np.r_[True, w[1:] != w[:-1]])
        rank[nodes[order]] = dense - dense[first] + 1
    starts = np.r_[np.flatnonzero(new_comp), c.size]
    return local, rank, nodes[order], starts


def _solve_pairs(
    pi: np.ndarray, ti: np.ndarray, dist: np.ndarray, weight: np.ndarray, n_picks: int, n_truth: int,
    radius_px: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal matching given candidate pairs (see module docstring); returns (pick, truth, dist)."""
    empty = np.zeros(0, dtype=np.int64)
    if pi.size == 0:
        return empty, empty, np.zeros(0)
    graph = coo_matrix((np.ones(pi.size), (pi, ti + n_picks)), shape=(n_picks + n_truth,) * 2)
    _, label = connected_components(graph, directed=False)
    comp = label[pi]
    # Components with one pick or one truth hold exactly one pair of the optimum:
    # the highest-ranked pick, then the nearest.
    n_comp = int(label.max()) + 1
    picks_per = np.bincount(label[np.unique(pi)], minlength=n_comp)
    truth_per = np.bincount(label[np.unique(ti) + n_picks], minlength=n_comp)
    simple = (picks_per == 1) | (truth_per == 1)
    order = np.lexsort((dist, -weight[pi], comp))
    first = order[np.r_[True, comp[order][1:] != comp[order][:-1]]]
    first = first[simple[comp[first]]]
    out_p, out_t, out_d = [pi[first]], [ti[first]], [dist[first]]
    # Larger components: Hungarian on a dense block per component.
    hard = np.flatnonzero(~simple[comp])
    if hard.size:
        p_nodes = np.unique(pi[hard])
        t_nodes = np.unique(ti[hard])
        p_local, p_rank, _, p_start = _local_index(label[p_nodes], weight[p_nodes], p_nodes, n_picks)
        t_local, _, _, t_start = _local_index(label[t_nodes + n_picks], None, t_nodes, n_truth)
        hard = hard[np.argsort(comp[hard], kind="stable")]
        bounds = np.flatnonzero(np.r_[True, comp[hard][1:] != comp[hard][:-1], True])
        for k, (start, stop) in enumerate(itertools.pairwise(bounds)):
            e = hard[start:stop]
            n_rows, n_cols = p_start[k + 1] - p_start[k], t_start[k + 1] - t_start[k]
            r_idx, c_idx = p_local[pi[e]], t_local[ti[e]]
            eps = 1.0 / (min(n_rows, n_cols) + 1.0)
            # Integer pick ranks dominate; the total distance term (< 1) only breaks ties.
            # Candidate costs are <= -1 + eps < 0; non-candidates cost 0 (= unmatched).
            cost = np.zeros((n_rows, n_cols))
            cost[r_idx, c_idx] = -p_rank[pi[e]] + eps * np.minimum(dist[e] / radius_px, 1.0)
            edge = np.full((n_rows, n_cols), -1, dtype=np.int64)
            edge[r_idx, c_idx] = e
            r, c = linear_sum_assignment(cost)
            chosen = edge[r, c]
            chosen = chosen[chosen >= 0]
            out_p.append(pi[chosen])
            out_t.append(ti[chosen])
            out_d.append(dist[chosen])
    p_all, t_all, d_all = np.concatenate(out_p), np.concatenate(out_t), np.concatenate(out_d)
    order = np.argsort(p_all, kind="stable")
    return p_all[order].astype(np.int64), t_all[order].astype(np.int64), d_all[order]


def default_radius_px(truth: pd.DataFrame | None, picks: pd.DataFrame | None) -> float | None:
    """The match radius when no size is given: half the truth's typical diameter, else the picks'.

    The truth comes first because it is the particles' own size; picks may carry the
    size they were picked at. None when neither table carries a diameter.
    """
    diameter_px = typical_diameter_px(truth, picks)
    return None if diameter_px is None else diameter_px / 2.0


def check_radius(radius_px: float) -> float:
    try:
        radius = float(radius_px)
    except (TypeError, ValueError):
        radius = math.nan
    if not (math.isfinite(radius) and radius > 0):
        raise CryopickError(
            f"match radius must be a positive number of pixels, not {radius_px!r}",
            fix="pass a positive --radius-px, or a positive --diameter",
        )
    return radius


def _candidate_pairs(
    picks_xyz: np.ndarray, truth_xyz: np.ndarray, radius_px: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(picks_xyz) == 0 or len(truth_xyz) == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    pairs = cKDTree(picks_xyz).sparse_distance_matrix(cKDTree(truth_xyz), radius_px, output_type="ndarray")
    return pairs["i"].astype(np.int64), pairs["j"].astype(np.int64), pairs["v"].astype(np.float64)


def match(
    picks_xy: np.ndarray,
    truth_xy: np.ndarray,
    radius_px: float,
    scores: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of picks to truth within a radius, in one micrograph.

    Parameters
    ----------
    picks_xy, truth_xy
        ``(n, 2)`` and ``(m, 2)`` arrays of (x, y) centres in pixels.
    radius_px
        Pairs farther apart than this never match (a distance equal to it may).
    scores
        Optional pick scores, ``(n,)``. Among maximum matchings, higher-scoring picks are
        preferred (NaN ranks lowest); without scores all picks are equal.

    Returns
    -------
    pick_idx, truth_idx
        Indices of matched pairs, sorted by pick index. The matching has the most pairs
        possible, then prefers higher-scoring picks, then the smallest total distance.
    """
    radius = check_radius(radius_px)
    p = np.asarray(picks_xy, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    w = np.zeros(len(p)) if scores is None else np.asarray(scores, dtype=np.float64).ravel()
    if w.size != len(p):
        raise ValueError(f"{w.size} scores for {len(p)} picks")
    pi, ti, d = _candidate_pairs(p, t, radius)
    mp, mt, _ = _solve_pairs(pi, ti, d, _rank_weights(w), len(p), len(t), radius)
    return mp, mt


def match_tables(
    picks: pd.DataFrame, truth: pd.DataFrame, codes_p: np.ndarray, codes_t: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match all micrographs at once: micrograph code becomes a far-apart extra axis.

    When both tables carry a ``z`` column (tomograms: x, y, z = column, row, section)
    the distance is measured in 3D.
    """
    spacing = 4.0 * radius + 1.0  # different micrographs are > radius apart
    axes = ("x", "y", "z") if "z" in picks.columns and "z" in truth.columns else ("x", "y")
    pxyz = np.column_stack([picks[a].to_numpy(np.float64) for a in axes] + [codes_p * spacing])
    txyz = np.column_stack([truth[a].to_numpy(np.float64) for a in axes] + [codes_t * spacing])
    pi, ti, d = _candidate_pairs(pxyz, txyz, radius)
    return _solve_pairs(pi, ti, d, _rank_weights(picks["score"].to_numpy()), len(pxyz), len(txyz), radius)
