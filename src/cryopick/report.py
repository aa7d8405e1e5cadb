"""Pictures people look at: picks over a micrograph, precision-recall curves.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def plot_overlay(image: np.ndarray, path: str | Path, picks: pd.DataFrame | None = None,
                 truth: pd.DataFrame | None = None, diameter_px: float | None = None,
                 title: str | None = None, max_side_px: int = 1600) -> Path:
    """Draw picks (and truth) as circles over a micrograph (original pixels) and save a PNG."""
    raise NotImplementedError


def plot_pr_curve(curves: dict[str, pd.DataFrame], path: str | Path, title: str | None = None) -> Path:
    """Plot one or more precision-recall curves (label -> curve table) and save a PNG."""
    raise NotImplementedError
