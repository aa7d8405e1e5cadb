"""What the scores of every candidate say: a histogram, the particle count and a threshold.

A picker that keeps every candidate with its score (``threshold`` 0) holds enough to
help choose the threshold. When the scores are calibrated probabilities (the FCN is
trained to estimate P(particle centre)), the candidates' probabilities sum to the
expected number of particles, and for a threshold ``t`` the expected true positives are
``TP(t) = sum of p over the candidates with p >= t``, so with ``n(t)`` candidates kept
and ``S = sum of all p``:

- expected precision ``TP(t) / n(t)``, expected recall ``TP(t) / S``,
- expected ``F1(t) = 2 TP(t) / (n(t) + S)``.

The suggested threshold maximises the expected F1 over the distinct candidate scores.
These are estimates, as good as the model's calibration: a model that is over-confident
on new data overestimates the count and the precision. With the true particles known,
:func:`with_truth` adds the F1-optimal threshold measured by :func:`cryopick.evaluation.metrics.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from cryopick.evaluation.metrics import json_number, evaluate
from cryopick.io.picks import validate_picks

HISTOGRAM_BINS = 20
"""Bins of the score histogram (over [0, 1] for probabilities)."""

PER_MICROGRAPH_COLUMNS: tuple[str, ...] = ("micrograph", "n_candidates", "n_picked", "expected_particles")
_NOT_PLAIN = ("bin_edges", "counts", "per_micrograph")


@dataclass(frozen=True, eq=False)
class ScoreSummary:
    """Result of :func:`summarise_scores` (and :func:`with_truth`).

    ``expected_*`` and ``suggested_threshold`` are None unless the scores are calibrated
    probabilities and every candidate was scored; ``best_f1*`` and ``f1_at_threshold``
    are None until :func:`with_truth` fills them.
    """

    bin_edges: tuple[float, ...]  # HISTOGRAM_BINS + 1 edges, ascending
    counts: tuple[int, ...]  # candidates per bin (finite scores only)
    n_candidates: int
    threshold_used: float
    n_picked: int  # candidates scoring >= threshold_used
    per_micrograph: pd.DataFrame  # PER_MICROGRAPH_COLUMNS, one row per micrograph
    calibrated: bool
    complete: bool
    expected_particles: float | None = None
    suggested_threshold: float | None = None
    expected_precision: float | None = None
    expected_recall: float | None = None
    expected_f1: float | None = None
    n_truth: int | None = None
    best_f1_threshold: float | None = None
    best_f1: float | None = None
    f1_at_threshold: float | None = None

    def to_dict(self) -> dict:
        """A JSON-serialisable form (NaN becomes None)."""
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_PLAIN}
        plain = {key: value if isinstance(value, bool) else json_number(value) for key, value in plain.items()}
        plain["histogram"] = {"bin_edges": [float(e) for e in self.bin_edges], "counts": [int(c) for c in self.counts]}
        plain["per_micrograph"] = [
            {k: (v if isinstance(v, str) else json_number(v)) for k, v in row.items()}
            for row in self.per_micrograph.to_dict(orient="records")
        ]
        return plain


def summarise_scores(candidates: pd.DataFrame, threshold: float, *, calibrated: bool = True, complete: bool = True,
                     micrographs: Sequence[str] | None = None) -> ScoreSummary:
    """Summarise the scores of a picker's candidates.

    Parameters
    ----------
    candidates
        A Picks table holding every candidate (picked with threshold 0) with its score.
    threshold
        The threshold the picks are written at.
    calibrated
        Whether scores are probabilities of a particle (the FCN's). False (the LoG's
        robust z-values): the histogram spans the score range, and no particle count or
        threshold is estimated.
    complete
        Whether ``candidates`` holds every candidate. False (only the picks above the
        threshold were scored): no count or threshold is estimated either.
    micrographs
        Every micrograph picked, so those without candidates count (with 0).

    Returns
    -------
    ScoreSummary
    """
    candidates = validate_picks(candidates)
    names = list(dict.fromkeys([*(micrographs or []), *candidates["micrograph"]]))
    by_name = {name: group["score"].to_numpy(dtype=np.float64) for name, group in candidates.groupby("micrograph")}
    empty = np.zeros(0, dtype=np.float64)
    return summarise_score_arrays({name: by_name.get(name, empty) for name in names}, threshold,
                                  calibrated=calibrated, complete=complete)


def summarise_score_arrays(scores_by_micrograph: Mapping[str, np.ndarray], threshold: float, *,
                           calibrated: bool = True, complete: bool = True) -> ScoreSummary:
    """:func:`summarise_scores` from each micrograph's candidate scores alone (in the mapping's order).

    A batch run keeps only these (8 bytes a candidate) instead of every candidate's row.
    """
    names = list(scores_by_micrograph)
    arrays = [np.asarray(scores_by_micrograph[name], dtype=np.float64).ravel() for name in names]
    scores = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float64)
    finite = scores[np.isfinite(scores)]
    edges, counts = _histogram(finite, calibrated)
    estimate = calibrated and complete
    per_mic = pd.DataFrame({
        "micrograph": pd.Series(names, dtype=object),
        "n_candidates": np.array([a.size for a in arrays], dtype=np.int64),
        "n_picked": np.array([int((a >= threshold).sum()) for a in arrays], dtype=np.int64),
        "expected_particles": (np.array([float(a[np.isfinite(a)].sum()) for a in arrays], dtype=np.float64)
                               if estimate else np.full(len(names), math.nan)),
    })
    summary = ScoreSummary(
        bin_edges=tuple(edges.tolist()), counts=tuple(counts.tolist()), n_candidates=int(scores.size),
        threshold_used=float(threshold), n_picked=int((scores >= threshold).sum()), per_micrograph=per_mic,
        calibrated=calibrated, complete=complete,
    )
    if not estimate:
        return summary
    total = float(finite.sum())
    best = _best_expected_f1(finite)
    if best is None:
        return replace(summary, expected_particles=total)
    suggested, tp, n_kept = best
    return replace(summary, expected_particles=total, suggested_threshold=suggested,
                   expected_precision=tp / n_kept, expected_recall=tp / total, expected_f1=2.0 * tp / (n_kept + total))


def _histogram(scores: np.ndarray, calibrated: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and counts: over [0, 1] for probabilities, else over the scores' range."""
    if calibrated:
        low, high = 0.0, 1.0
    elif scores.size:
        low, high = float(scores.min()), float(scores.max())
        if high <= low:
            low, high = low - 0.5, low + 0.5
    else:
        low, high = 0.0, 1.0
    counts, edges = np.histogram(np.clip(scores, low, high), bins=HISTOGRAM_BINS, range=(low, high))
    return edges.round(12), counts.astype(np.int64)


def _best_expected_f1(probabilities: np.ndarray) -> tuple[float, float, int] | None:
    """(threshold, expected TP, candidates kept) where the expected F1 is highest; None if nothing to find.

    Thresholds are the distinct probabilities; of equal F1s the higher threshold wins.
    """
    total = float(probabilities.sum())
    if not total > 0:
        return None
    p = np.sort(probabilities)[::-1]
    last = np.r_[p[1:] != p[:-1], True]  # the last candidate of each distinct score
    n_kept = np.arange(1, p.size + 1)[last]
    tp = np.cumsum(p)[last]
    f1 = 2.0 * tp / (n_kept + total)
    best = int(np.argmax(f1))  # first maximum: the highest threshold
    return float(p[last][best]), float(tp[best]), int(n_kept[best])


def with_truth(summary: ScoreSummary, candidates: pd.DataFrame, truth: pd.DataFrame, radius_px: float) -> ScoreSummary:
    """Add the F1-optimal threshold and the F1 at the threshold used, measured against truth.

    Parameters
    ----------
    summary
        From :func:`summarise_scores` over the same ``candidates``.
    candidates
        Every candidate, as given to :func:`summarise_scores`.
    truth
        The true particles (a Picks table) of the same micrographs.
    radius_px
        Match radius in pixels (half the particle diameter).

    Raises
    ------
    CryopickError
        If ``truth`` is empty or the radius is not positive (see :func:`cryopick.evaluation.metrics.evaluate`).
    """
    result = evaluate(candidates, truth, radius_px, summary.threshold_used)
    best = result.best_threshold if math.isfinite(result.best_threshold) else None
    return replace(summary, n_truth=result.n_truth, best_f1_threshold=best, best_f1=result.best_f1,
                   f1_at_threshold=result.f1)


def format_summary(summary: ScoreSummary, *, rows: int = 10, width: int = 30,
                   threshold_from: str | None = None) -> list[str]:
    """Plain console lines: a text histogram (highest scores first), the counts and the thresholds.

    Each threshold says where it comes from: the one used (``threshold_from``, e.g.
    "--threshold"), the suggested one (best F1 expected from the scores read as
    probabilities) and the F1-optimal one (measured against the truth).
    """
    lines = _histogram_lines(summary, rows, width)
    lines.append(f"{summary.n_candidates} candidates, {summary.n_picked} picked at threshold "
                 f"{summary.threshold_used:.3g}" + ("" if threshold_from is None else f" ({threshold_from})"))
    if summary.expected_particles is not None:
        per_mic = summary.per_micrograph["expected_particles"].to_numpy(dtype=np.float64)
        line = f"expected particles: about {summary.expected_particles:.0f}"
        if per_mic.size:
            line += f" ({per_mic.mean():.1f} per micrograph, {per_mic.min():.0f}-{per_mic.max():.0f})"
        lines.append(line)
    elif not summary.calibrated:
        lines.append("scores are not calibrated probabilities: no particle count or threshold is estimated")
    else:
        lines.append("only the picks were scored: no particle count or threshold is estimated")
    if summary.suggested_threshold is not None:
        lines.append(f"suggested threshold {summary.suggested_threshold:.3g}: the best F1 expected if the scores are "
                     f"probabilities (expected precision {summary.expected_precision:.2f}, "
                     f"recall {summary.expected_recall:.2f})")
    if summary.best_f1 is not None:
        best = "none" if summary.best_f1_threshold is None else f"{summary.best_f1_threshold:.3g}"
        lines.append(f"F1-optimal threshold {best}, measured against the truth (F1 {summary.best_f1:.3f}; F1 at "
                     f"{summary.threshold_used:.3g}: {summary.f1_at_threshold:.3f}; {summary.n_truth} true particles)")
    return lines


def _histogram_lines(summary: ScoreSummary, rows: int, width: int) -> list[str]:
    """The histogram merged into ``rows`` rows; bar lengths scale with the count, any count shows."""
    edges = np.asarray(summary.bin_edges)
    counts = np.asarray(summary.counts)
    groups = np.array_split(np.arange(counts.size), min(rows, counts.size))
    merged = [(edges[g[0]], edges[g[-1] + 1], int(counts[g].sum())) for g in groups]
    top = max((c for _, _, c in merged), default=0)
    if summary.calibrated:
        labels = [f"{low:.2f}-{high:.2f}" for low, high, _ in merged]
    else:
        labels = [f"{low:.3g}..{high:.3g}" for low, high, _ in merged]
    pad = max(len(label) for label in labels)
    lines = []
    for label, (_, _, count) in reversed(list(zip(labels, merged))):
        bar = 0 if top == 0 else max(int(round(width * count / top)), 1 if count else 0)
        lines.append(f"{label:>{pad}} |{'#' * bar:<{width}}| {count}")
    return lines
