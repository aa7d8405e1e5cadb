"""Pictures people look at: picks over a micrograph, precision-recall curves.

Everything is drawn with matplotlib's Agg canvas (no display, no :mod:`matplotlib.pyplot`
state) and written atomically as PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import EllipseCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cryopick.errors import CryopickError
from cryopick.evaluation.metrics import average_precision
from cryopick.evaluation.matching import match
from cryopick.io.atomic import atomic_path
from cryopick.io.picks import typical_diameter_px
from cryopick.preprocess import median_and_spread

PICK_COLOUR = "#00e5ff"  # cyan: picks when there is no truth to judge them by
TRUTH_COLOUR = "#ffd400"  # yellow: truth (missed truth when both are given)
MATCHED_COLOUR = "#39ff14"  # green: picks matched to a true particle
FALSE_COLOUR = "#ff2a2a"  # red: picks matched to nothing
MIN_SIDE_PX = 800
"""Small micrographs are drawn enlarged so that this is the longer side of the picture."""
TITLE_PX = 30
DPI = 100



def display_bin(image: np.ndarray, max_side_px: int) -> tuple[np.ndarray, int]:
    """Block-mean ``image`` by the smallest integer factor that fits ``max_side_px``.

    Non-finite pixels are left out of each block's mean (a block of only such pixels is
    NaN). Rows and columns beyond a whole number of blocks are dropped (fewer than the
    factor, i.e. under one displayed pixel).

    Returns
    -------
    binned, factor
        The binned image (float32) and the factor: binned pixel ``(i, j)`` covers original
        rows ``i*factor ... i*factor+factor-1`` and likewise columns.
    """
    image = np.asarray(image)
    if image.ndim != 2 or min(image.shape) < 1:
        raise CryopickError(f"cannot draw an image of shape {image.shape}", fix="give a 2D micrograph")
    factor = max(1, math.ceil(max(image.shape) / max(int(max_side_px), 1)))
    ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    if ny == 0 or nx == 0:  # a very thin image: keep at least one block per side
        factor = max(1, min(image.shape))
        ny, nx = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    crop = image[:ny, :nx].astype(np.float32, copy=False)
    finite = np.isfinite(crop)
    if factor == 1:
        return np.where(finite, crop, np.nan).astype(np.float32), 1
    shape = (ny // factor, factor, nx // factor, factor)
    if finite.all():
        return crop.reshape(shape).mean(axis=(1, 3), dtype=np.float64).astype(np.float32), factor
    total = np.where(finite, crop, 0.0).reshape(shape).sum(axis=(1, 3), dtype=np.float64)
    count = finite.reshape(shape).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32), factor


DISPLAY_SPREADS = 3.0
"""The grey range is the median +- this many robust standard deviations of the pixels."""


def display_range(binned: np.ndarray, spreads: float = DISPLAY_SPREADS) -> tuple[float, float]:
    """The grey range to show: the median +- ``spreads`` robust standard deviations of the finite pixels.

    Median and MAD are robust, so an ice blob or a carbon edge covering part of the
    micrograph keeps its own black or white instead of taking the contrast of the rest
    (percentiles gave it to them). A flat image gets a range of 1 around its value.
    """
    values = binned[np.isfinite(binned)]
    if values.size == 0:
        return 0.0, 1.0
    centre, spread = median_and_spread(values)
    if not spread > 0:  # over half the pixels equal: fall back to the full range
        low, high = float(values.min()), float(values.max())
        return (low, high) if high > low else (low - 0.5, low + 0.5)
    return centre - spreads * spread, centre + spreads * spread


def _diameter(diameter_px: float | None, *tables: pd.DataFrame | None) -> float:
    if diameter_px is not None:
        if not (math.isfinite(diameter_px) and diameter_px > 0):
            raise CryopickError(f"particle diameter must be positive, not {diameter_px}", fix="pass a positive diameter")
        return float(diameter_px)
    known = typical_diameter_px(*tables)
    if known is not None:
        return known
    raise CryopickError(
        "cannot tell how big to draw the particles",
        fix="pass the particle diameter (--diameter), or coordinates that carry one",
    )


def _xy(table: pd.DataFrame) -> np.ndarray:
    return np.column_stack([table["x"].to_numpy(np.float64), table["y"].to_numpy(np.float64)])


def _circles(ax, xy: np.ndarray, diameter_px: float, colour: str, linestyle: str = "solid") -> None:
    if len(xy) == 0:
        return
    ax.add_collection(
        EllipseCollection(
            widths=diameter_px, heights=diameter_px, angles=0.0, units="xy", offsets=xy,
            offset_transform=ax.transData, facecolors="none", edgecolors=colour,
            linewidths=1.3, linestyles=linestyle,
        )
    )


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    return path


def plot_overlay(image: np.ndarray, path: str | Path, picks: pd.DataFrame | None = None,
                 truth: pd.DataFrame | None = None, diameter_px: float | None = None,
                 title: str | None = None, max_side_px: int = 1600,
                 radius_px: float | None = None) -> Path:
    """Draw picks (and truth) as circles over a micrograph and save a PNG.

    Parameters
    ----------
    image
        The micrograph, ``(ny, nx)``; non-finite pixels are allowed (drawn blank).
    path
        PNG to write (atomically).
    picks, truth
        Picks tables of this micrograph; coordinates in original pixels (x = column,
        y = row, origin at the top-left as the array is drawn).
    diameter_px
        Circle diameter in original pixels; default: the median ``diameter_px`` of
        ``picks`` then ``truth``.
    title
        Drawn above the picture.
    max_side_px
        The picture's longer side is at most this (the image is block-mean binned to fit;
        small images are drawn enlarged to about 800 px).
    radius_px
        Match radius when both picks and truth are given; default ``diameter_px / 2``.
        Matched picks, false positives and missed truth then get their own colours.

    Returns
    -------
    Path
        ``path``.
    """
    fig, ax = _micrograph_figure(image, max_side_px, title)
    has_picks = picks is not None and len(picks) > 0
    has_truth = truth is not None and len(truth) > 0
    handles = _draw_picks(ax, picks, truth, _diameter(diameter_px, picks, truth), radius_px) if (
        has_picks or has_truth) else []
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=9, framealpha=0.75, facecolor="black",
                  edgecolor="none", labelcolor="white")
    return _save(fig, path)


def _micrograph_figure(image: np.ndarray, max_side_px: int, title: str | None) -> tuple[Figure, Axes]:
    """A figure showing the micrograph (binned to fit ``max_side_px``, small ones enlarged) in original pixel
    coordinates, with ``title`` above it."""
    binned, factor = display_bin(image, max_side_px)
    by, bx = binned.shape
    zoom = max(1.0, min(MIN_SIDE_PX, max_side_px) / max(by, bx))
    width, height = max(1, round(bx * zoom)), max(1, round(by * zoom))
    top = TITLE_PX if title else 0
    fig = Figure(figsize=(width / DPI, (height + top) / DPI), dpi=DPI)
    ax = fig.add_axes((0.0, 0.0, 1.0, height / (height + top)))
    ax.set_axis_off()
    vmin, vmax = display_range(binned)
    # Binned pixel (i, j) covers original pixel centres i*factor-0.5 ... (i+1)*factor-0.5.
    ax.imshow(binned, cmap="gray", vmin=vmin, vmax=vmax, origin="upper", interpolation="nearest",
              extent=(-0.5, bx * factor - 0.5, by * factor - 0.5, -0.5), resample=False)
    ax.set_xlim(-0.5, bx * factor - 0.5)
    ax.set_ylim(by * factor - 0.5, -0.5)
    ax.set_aspect("auto")
    if title:
        fig.text(0.5, 1.0 - 0.5 * top / (height + top), title, ha="center", va="center", fontsize=12)
    return fig, ax


def _draw_picks(ax: Axes, picks: pd.DataFrame | None, truth: pd.DataFrame | None, diameter: float,
                radius_px: float | None) -> list[Line2D]:
    """Circles for the picks and truth (matched, false and missed when both are given); their legend entries."""
    if picks is not None and truth is not None:
        radius = diameter / 2.0 if radius_px is None else float(radius_px)
        pxy, txy = _xy(picks), _xy(truth)
        scores = picks["score"].to_numpy(np.float64) if "score" in picks.columns else None
        mp, mt = match(pxy, txy, radius, scores)
        matched = np.zeros(len(pxy), dtype=bool)
        matched[mp] = True
        found = np.zeros(len(txy), dtype=bool)
        found[mt] = True
        _circles(ax, txy[~found], diameter, TRUTH_COLOUR, "dashed")
        _circles(ax, pxy[matched], diameter, MATCHED_COLOUR)
        _circles(ax, pxy[~matched], diameter, FALSE_COLOUR)
        return [_legend_entry(MATCHED_COLOUR, f"matched picks ({int(matched.sum())})"),
                _legend_entry(FALSE_COLOUR, f"false positives ({int((~matched).sum())})"),
                _legend_entry(TRUTH_COLOUR, f"missed truth ({int((~found).sum())})")]
    if picks is not None:
        _circles(ax, _xy(picks), diameter, PICK_COLOUR)
        return [_legend_entry(PICK_COLOUR, f"picks ({len(picks)})")]
    _circles(ax, _xy(truth), diameter, TRUTH_COLOUR)
    return [_legend_entry(TRUTH_COLOUR, f"truth ({len(truth)})")]


def _legend_entry(colour: str, label: str) -> Line2D:
    return Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor=colour,
                  markersize=10, label=label, markeredgewidth=1.5)


def plot_pr_curve(curves: dict[str, pd.DataFrame], path: str | Path, title: str | None = None) -> Path:
    """Plot one or more precision-recall curves and save a PNG.

    Parameters
    ----------
    curves
        ``{label: curve}`` with curve tables as :attr:`cryopick.evaluation.metrics.Evaluation.curve`
        (columns ``precision`` and ``recall``, descending threshold). Each is drawn as the
        step function whose area is its average precision; the legend gives AP and the
        best F1, which is marked with a dot.
    path
        PNG to write (atomically).
    title
        Drawn above the plot.
    """
    fig = Figure(figsize=(7.0, 5.6), dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    grid = np.linspace(0.01, 1.0, 200)
    for level in (0.2, 0.4, 0.6, 0.8):  # iso-F1 lines: P = F R / (2R - F)
        r = grid[2 * grid > level]
        p = level * r / (2 * r - level)
        keep = p <= 1.0
        ax.plot(r[keep], p[keep], color="0.85", linewidth=0.8, zorder=0)
        ax.annotate(f"F1={level:.1f}", (r[keep][-1], p[keep][-1]), fontsize=7, color="0.6",
                    xytext=(2, 2), textcoords="offset points")
    colours = [f"C{i}" for i in range(10)]
    for i, (label, curve) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        if curve is None or len(curve) == 0:
            ax.plot([], [], color=colour, label=f"{label} (no picks)")
            continue
        precision = curve["precision"].to_numpy(np.float64)
        recall = curve["recall"].to_numpy(np.float64)
        ap = average_precision(curve)
        f1 = _curve_f1(curve)
        best = int(np.argmax(f1))
        ax.plot(np.r_[0.0, recall], np.r_[precision[0], precision], drawstyle="steps-pre", color=colour,
                linewidth=1.8, label=f"{label} (AP {ap:.3f}, best F1 {f1[best]:.3f})")
        ax.plot([recall[best]], [precision[best]], "o", color=colour, markersize=7,
                markeredgecolor="black", zorder=3)
    ax.set_xlim(0.0, 1.02)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("recall (found / true particles)")
    ax.set_ylabel("precision (matched / picks)")
    ax.grid(True, color="0.92")
    if curves:
        ax.legend(loc="lower left", fontsize=9)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _curve_f1(curve: pd.DataFrame) -> np.ndarray:
    if "f1" in curve.columns:
        return curve["f1"].to_numpy(np.float64)
    p = curve["precision"].to_numpy(np.float64)
    r = curve["recall"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r > 0, 2 * p * r / np.where(p + r > 0, p + r, 1.0), 0.0)


def plot_cluster_averages(averages: np.ndarray, clusters: pd.DataFrame, path: str | Path,
                          title: str | None = None) -> Path:
    """Draw each cluster's average box in a row, labelled with its size, distance and verdict.

    ``clusters`` has ``cluster, n_picks, median_distance, junk`` (one row per average, in
    order), as :class:`cryopick.postprocess.clean.CleanResult` gives them.
    """
    n = len(averages)
    if n == 0:
        raise CryopickError("no cluster to draw", fix="clean at least one pick")
    columns = min(n, 8)
    rows = math.ceil(n / columns)
    fig = Figure(figsize=(1.8 * columns, 2.1 * rows + (0.4 if title else 0.0)))
    lo, hi = np.percentile(np.concatenate([a.ravel() for a in averages]), [1.0, 99.0])
    for i, (average, (_, row)) in enumerate(zip(averages, clusters.iterrows())):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(average, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        verdict = "JUNK" if bool(row["junk"]) else "kept"
        ax.set_title(f"{int(row['cluster'])}: {int(row['n_picks'])} picks\nd={row['median_distance']:.1f} {verdict}",
                     fontsize=8, color="red" if bool(row["junk"]) else "black")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
