"""Evaluation of picks against truth: one-to-one matching, precision, recall, F1, AP.

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

It is solved with the Hungarian algorithm (:func:`scipy.optimize.linear_sum_assignment`)
separately on each connected component of the "within radius" graph, found with a
:class:`scipy.spatial.cKDTree`, so large datasets evaluate in seconds.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.io.picks import validate_picks

CURVE_COLUMNS: tuple[str, ...] = ("threshold", "precision", "recall", "f1", "n_picks", "n_matched")
PER_MICROGRAPH_COLUMNS: tuple[str, ...] = (
    "micrograph", "n_picks", "n_truth", "n_matched", "precision", "recall", "f1", "mean_distance_px",
)
MAX_CURVE_POINTS = 200
"""At most this many curve points go into :meth:`Evaluation.to_dict`."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Result of :func:`evaluate`.

    ``precision``, ``recall``, ``f1`` and the counts are at the judged picks (score
    ``>= threshold``, or all picks when no threshold was given). ``average_precision``,
    ``best_f1``, ``best_threshold`` and ``curve`` always use all picks.
    """

    precision: float
    recall: float
    f1: float
    average_precision: float
    best_f1: float
    best_threshold: float  # NaN when there are no picks or the best point is the unscored picks
    n_picks: int
    n_truth: int
    n_matched: int
    radius_px: float
    per_micrograph: pd.DataFrame  # PER_MICROGRAPH_COLUMNS, one row per micrograph in picks or truth
    curve: pd.DataFrame  # CURVE_COLUMNS, descending threshold
    threshold: float | None = None
    mean_distance_px: float = field(default=math.nan)

    def to_dict(self, max_curve_points: int = MAX_CURVE_POINTS) -> dict:
        """A JSON-serialisable summary (NaN becomes None; the curve is subsampled)."""
        curve = _subsample_curve(self.curve, max_curve_points)
        return {
            "radius_px": _num(self.radius_px),
            "threshold": _num(self.threshold),
            "n_picks": int(self.n_picks),
            "n_truth": int(self.n_truth),
            "n_matched": int(self.n_matched),
            "precision": _num(self.precision),
            "recall": _num(self.recall),
            "f1": _num(self.f1),
            "mean_distance_px": _num(self.mean_distance_px),
            "average_precision": _num(self.average_precision),
            "best_f1": _num(self.best_f1),
            "best_threshold": _num(self.best_threshold),
            "curve": {col: [_num(v) for v in curve[col].tolist()] for col in curve.columns},
            "per_micrograph": [
                {k: (v if isinstance(v, str) else _num(v)) for k, v in row.items()}
                for row in self.per_micrograph.to_dict(orient="records")
            ],
        }


def _num(value: object) -> float | int | None:
    """A plain Python number for JSON; None for None/NaN/inf."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    value = float(value)  # type: ignore[arg-type]
    return value if math.isfinite(value) else None


def _subsample_curve(curve: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows, evenly spread, always keeping first, last and best-F1."""
    n = len(curve)
    if n <= max_points or max_points < 3:
        return curve
    keep = set(np.unique(np.linspace(0, n - 1, max_points - 1).round().astype(int)).tolist())
    keep.add(int(np.argmax(curve["f1"].to_numpy())))
    return curve.iloc[sorted(keep)].reset_index(drop=True)


# --------------------------------------------------------------------------- matching


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


def _check_radius(radius_px: float) -> float:
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
    radius = _check_radius(radius_px)
    p = np.asarray(picks_xy, dtype=np.float64).reshape(-1, 2)
    t = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    w = np.zeros(len(p)) if scores is None else np.asarray(scores, dtype=np.float64).ravel()
    if w.size != len(p):
        raise ValueError(f"{w.size} scores for {len(p)} picks")
    pi, ti, d = _candidate_pairs(p, t, radius)
    mp, mt, _ = _solve_pairs(pi, ti, d, _rank_weights(w), len(p), len(t), radius)
    return mp, mt


def _match_tables(
    picks: pd.DataFrame, truth: pd.DataFrame, codes_p: np.ndarray, codes_t: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match all micrographs at once: micrograph code becomes a far-apart third axis."""
    spacing = 4.0 * radius + 1.0  # different micrographs are > radius apart
    pxyz = np.column_stack([picks["x"].to_numpy(), picks["y"].to_numpy(), codes_p * spacing])
    txyz = np.column_stack([truth["x"].to_numpy(), truth["y"].to_numpy(), codes_t * spacing])
    pi, ti, d = _candidate_pairs(pxyz, txyz, radius)
    return _solve_pairs(pi, ti, d, _rank_weights(picks["score"].to_numpy()), len(pxyz), len(txyz), radius)


# --------------------------------------------------------------------------- metrics


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """num / den with 0 / 0 = 0 (no picks: precision 0; no truth: recall 0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _f1(tp: np.ndarray | float, n_picks: np.ndarray | float, n_truth: np.ndarray | float) -> np.ndarray:
    """F1 = 2 TP / (n_picks + n_truth), which equals 2PR / (P + R) and is exact for P = R = 1."""
    return _ratio(2.0 * np.asarray(tp, dtype=np.float64), np.asarray(n_picks) + np.asarray(n_truth))


def pr_curve(scores: np.ndarray, is_tp: np.ndarray, n_truth: int) -> pd.DataFrame:
    """Precision-recall curve from per-pick scores and match flags.

    One row per distinct score, descending; each row counts the picks scoring at least
    that much. NaN scores rank below every number and form one last row with threshold
    NaN ("every pick, the unscored included").
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_tp = np.asarray(is_tp, dtype=bool)
    if scores.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in CURVE_COLUMNS})
    key = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.argsort(-key, kind="stable")
    key, tp_sorted = key[order], is_tp[order]
    last = np.r_[key[1:] != key[:-1], True]  # last pick of each distinct score
    n_picks = np.arange(1, scores.size + 1)[last]
    n_matched = np.cumsum(tp_sorted)[last]
    thresholds = key[last]
    thresholds = np.where(np.isfinite(thresholds), thresholds, np.nan)
    return pd.DataFrame(
        {
            "threshold": thresholds,
            "precision": _ratio(n_matched, n_picks),
            "recall": _ratio(n_matched, n_truth),
            "f1": _f1(n_matched, n_picks, n_truth),
            "n_picks": n_picks.astype(np.int64),
            "n_matched": n_matched.astype(np.int64),
        }
    )


def average_precision(curve: pd.DataFrame, n_truth: int | None = None) -> float:
    """Step-wise area under a precision-recall curve: ``sum_k (R_k - R_{k-1}) * P_k``, ``R_0 = 0``.

    Rows are in descending threshold (recall non-decreasing). With the counts
    (``n_matched``) and ``n_truth`` known this is computed as
    ``sum_k (TP_k - TP_{k-1}) * P_k / n_truth``, exact (1.0) for perfect picks. This is
    the definition of :func:`sklearn.metrics.average_precision_score`, except that recall
    counts every true particle, including those no pick came near.
    """
    if len(curve) == 0:
        return 0.0
    precision = curve["precision"].to_numpy(dtype=np.float64)
    if n_truth is not None and "n_matched" in curve.columns:
        tp = curve["n_matched"].to_numpy(dtype=np.float64)
        return float(np.sum(np.diff(tp, prepend=0.0) * precision) / n_truth) if n_truth > 0 else 0.0
    recall = curve["recall"].to_numpy(dtype=np.float64)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _encode(picks: pd.DataFrame, truth: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = sorted(set(picks["micrograph"]) | set(truth["micrograph"]))
    lookup = {name: i for i, name in enumerate(names)}
    codes_p = picks["micrograph"].map(lookup).to_numpy(dtype=np.int64)
    codes_t = truth["micrograph"].map(lookup).to_numpy(dtype=np.int64)
    return names, codes_p, codes_t


def evaluate(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float,
             threshold: float | None = None) -> Evaluation:
    """Evaluate picks against truth, per micrograph and overall.

    Parameters
    ----------
    picks, truth
        Picks tables; micrographs match by name, and coordinates never match across
        micrographs.
    radius_px
        Match radius in pixels (usually half the particle diameter).
    threshold
        Judge only picks scoring ``>= threshold`` for precision, recall, F1 and the
        per-micrograph table (unscored picks then never pass). The curve, AP and best F1
        always use all picks.

    Returns
    -------
    Evaluation
        With ``0 / 0`` taken as 0: no picks gives precision 0, recall 0, F1 0, AP 0.

    Raises
    ------
    CryopickError
        If ``radius_px`` is not positive, ``truth`` is empty, or a threshold is given but
        no pick has a score.
    """
    radius = _check_radius(radius_px)
    picks = validate_picks(picks)
    truth = validate_picks(truth)
    if truth.empty:
        raise CryopickError(
            "the truth table has no particles, so recall is undefined",
            fix="give a truth file with at least one particle for these micrographs",
        )
    names, codes_p, codes_t = _encode(picks, truth)
    n_truth = len(truth)

    # The curve: all picks, score-preferring matching (exact at every threshold).
    matched_all = _match_tables(picks, truth, codes_p, codes_t, radius)
    mp_all = matched_all[0]
    tp_all = np.zeros(len(picks), dtype=bool)
    tp_all[mp_all] = True
    curve = pr_curve(picks["score"].to_numpy(), tp_all, n_truth)
    ap = average_precision(curve, n_truth)
    if len(curve):
        best = int(np.argmax(curve["f1"].to_numpy()))
        best_f1, best_threshold = float(curve["f1"].iloc[best]), float(curve["threshold"].iloc[best])
    else:
        best_f1, best_threshold = 0.0, math.nan

    # The judged picks.
    if threshold is None:
        kept = np.ones(len(picks), dtype=bool)
        mp, mt, md = matched_all
    else:
        threshold = float(threshold)
        scores = picks["score"].to_numpy()
        if len(picks) and not np.isfinite(scores).any():
            raise CryopickError(
                "a score threshold was given but the picks carry no scores",
                fix="leave out --threshold, or give picks in a format with scores (STAR, CBOX, CSV)",
            )
        kept = scores >= threshold  # NaN compares False
        sub = picks.loc[kept].reset_index(drop=True)
        mp, mt, md = _match_tables(sub, truth, codes_p[kept], codes_t, radius)
    codes_kept = codes_p[kept]
    n_picks, n_matched = int(kept.sum()), int(mp.size)

    n_mic = len(names)
    mic_picks = np.bincount(codes_kept, minlength=n_mic)
    mic_truth = np.bincount(codes_t, minlength=n_mic)
    mic_matched = np.bincount(codes_t[mt], minlength=n_mic)
    dist_sum = np.bincount(codes_t[mt], weights=md, minlength=n_mic)
    with np.errstate(invalid="ignore", divide="ignore"):
        mic_mean_d = np.where(mic_matched > 0, dist_sum / np.maximum(mic_matched, 1), np.nan)
    per_mic = pd.DataFrame(
        {
            "micrograph": pd.Series(names, dtype=object),
            "n_picks": mic_picks.astype(np.int64),
            "n_truth": mic_truth.astype(np.int64),
            "n_matched": mic_matched.astype(np.int64),
            "precision": _ratio(mic_matched, mic_picks),
            "recall": _ratio(mic_matched, mic_truth),
            "f1": _f1(mic_matched, mic_picks, mic_truth),
            "mean_distance_px": mic_mean_d,
        }
    )
    return Evaluation(
        precision=float(_ratio(n_matched, n_picks)),
        recall=float(_ratio(n_matched, n_truth)),
        f1=float(_f1(n_matched, n_picks, n_truth)),
        average_precision=ap,
        best_f1=best_f1,
        best_threshold=best_threshold,
        n_picks=n_picks,
        n_truth=n_truth,
        n_matched=n_matched,
        radius_px=radius,
        per_micrograph=per_mic,
        curve=curve,
        threshold=threshold,
        mean_distance_px=float(md.mean()) if md.size else math.nan,
    )
