"""Evaluation of picks against truth: precision, recall, F1, average precision.

Picks and truth are matched one-to-one within a radius by :mod:`cryopick.evaluation.matching`
(most pairs, then highest-scoring picks, then shortest distances), so one matching
serves the whole score sweep. Metrics follow ``docs/evaluation.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.picks import validate_picks
from cryopick.evaluation.matching import check_radius, match_tables

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
            "radius_px": json_number(self.radius_px),
            "threshold": json_number(self.threshold),
            "n_picks": int(self.n_picks),
            "n_truth": int(self.n_truth),
            "n_matched": int(self.n_matched),
            "precision": json_number(self.precision),
            "recall": json_number(self.recall),
            "f1": json_number(self.f1),
            "mean_distance_px": json_number(self.mean_distance_px),
            "average_precision": json_number(self.average_precision),
            "best_f1": json_number(self.best_f1),
            "best_threshold": json_number(self.best_threshold),
            "curve": {col: [json_number(v) for v in curve[col].tolist()] for col in curve.columns},
            "per_micrograph": [
                {k: (v if isinstance(v, str) else json_number(v)) for k, v in row.items()}
                for row in self.per_micrograph.to_dict(orient="records")
            ],
        }


def json_number(value: object) -> float | int | None:
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
    radius = check_radius(radius_px)
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
    matched_all = match_tables(picks, truth, codes_p, codes_t, radius)
    curve, ap, best_f1, best_threshold = _sweep(picks["score"].to_numpy(), matched_all[0], n_truth)
    if threshold is None:
        kept = np.ones(len(picks), dtype=bool)
        mp, mt, md = matched_all
    else:
        threshold = float(threshold)
        kept = _passing(picks, threshold)
        sub = picks.loc[kept].reset_index(drop=True)
        mp, mt, md = match_tables(sub, truth, codes_p[kept], codes_t, radius)
    n_picks, n_matched = int(kept.sum()), int(mp.size)
    per_mic = _per_micrograph(names, codes_p[kept], codes_t, mt, md)
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


def _sweep(scores: np.ndarray, matched_picks: np.ndarray, n_truth: int) -> tuple[pd.DataFrame, float, float, float]:
    """The curve over every pick, its AP, and its best F1 with that point's threshold (NaN without picks)."""
    tp_all = np.zeros(len(scores), dtype=bool)
    tp_all[matched_picks] = True
    curve = pr_curve(scores, tp_all, n_truth)
    ap = average_precision(curve, n_truth)
    if not len(curve):
        return curve, ap, 0.0, math.nan
    best = int(np.argmax(curve["f1"].to_numpy()))
    return curve, ap, float(curve["f1"].iloc[best]), float(curve["threshold"].iloc[best])


def _passing(picks: pd.DataFrame, threshold: float) -> np.ndarray:
    """Which picks score at least ``threshold`` (unscored ones never do); an error when none has a score."""
    scores = picks["score"].to_numpy()
    if len(picks) and not np.isfinite(scores).any():
        raise CryopickError(
            "a score threshold was given but the picks carry no scores",
            fix="leave out --threshold, or give picks in a format with scores (STAR, CBOX, CSV)",
        )
    return scores >= threshold  # NaN compares False


def _per_micrograph(names: list[str], codes_picks: np.ndarray, codes_truth: np.ndarray, matched_truth: np.ndarray,
                    distances_px: np.ndarray) -> pd.DataFrame:
    """One row per micrograph (:data:`PER_MICROGRAPH_COLUMNS`) from the judged picks' matching."""
    n_mic = len(names)
    mic_picks = np.bincount(codes_picks, minlength=n_mic)
    mic_truth = np.bincount(codes_truth, minlength=n_mic)
    mic_matched = np.bincount(codes_truth[matched_truth], minlength=n_mic)
    dist_sum = np.bincount(codes_truth[matched_truth], weights=distances_px, minlength=n_mic)
    with np.errstate(invalid="ignore", divide="ignore"):
        mic_mean_d = np.where(mic_matched > 0, dist_sum / np.maximum(mic_matched, 1), np.nan)
    return pd.DataFrame(
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
