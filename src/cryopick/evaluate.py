"""Evaluation of picks against truth: one-to-one matching, precision, recall, F1, AP.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Evaluation:
    precision: float
    recall: float
    f1: float
    average_precision: float
    best_f1: float
    best_threshold: float
    n_picks: int
    n_truth: int
    n_matched: int
    radius_px: float
    per_micrograph: pd.DataFrame  # micrograph, n_picks, n_truth, n_matched, precision, recall, f1
    curve: pd.DataFrame  # threshold, precision, recall (descending threshold)

    def to_dict(self) -> dict:
        raise NotImplementedError


def match(picks_xy: np.ndarray, truth_xy: np.ndarray, radius_px: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one (Hungarian) matching within radius; returns (pick_idx, truth_idx) of matched pairs."""
    raise NotImplementedError


def evaluate(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float,
             threshold: float | None = None) -> Evaluation:
    """Evaluate picks (scores >= threshold if given) against truth, per micrograph and overall."""
    raise NotImplementedError
