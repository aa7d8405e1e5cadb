"""One self-contained HTML page about a picking run: thumbnails, scores, counts, truth, training.

The page needs nothing beside itself: every picture is a PNG embedded as a ``data:`` URI,
the style sheet is inline and there is no JavaScript, so it can be mailed, archived or
opened from any folder. Every piece of text that comes from the user (file and
micrograph names) is HTML-escaped. A section whose input is absent (no micrographs, no
truth, no training history) is left out, and a line at the top says why. Micrographs are
read one at a time, and only the ones drawn, so memory stays bounded.
"""

from __future__ import annotations

import base64
import html
import io
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

import cryopick
from cryopick.errors import CryopickError
from cryopick.evaluation.matching import default_radius_px
from cryopick.evaluation.metrics import evaluate
from cryopick.io.atomic import write_text_atomic
from cryopick.io.micrographs import read_micrograph
from cryopick.io.names import micrograph_name
from cryopick.io.picks import picks_for, typical_diameter_px, validate_picks
from cryopick.reports.figures import (FALSE_COLOUR, MATCHED_COLOUR, PICK_COLOUR, TRUTH_COLOUR, plot_overlay,
                             plot_pr_curve)
from cryopick.pickers.training_record import training_record
from cryopick.postprocess.score_summary import summarise_scores

SECTION_TITLES: dict[str, str] = {"micrographs": "Micrographs", "scores": "Scores", "counts": "Picks per micrograph",
                                  "truth": "Against truth", "training": "Training"}
"""The ``<h2>`` heading of each section, by key."""

@dataclass(frozen=True)
class ReportConfig:
    """What the page shows.

    Parameters
    ----------
    max_thumbnails
        At most this many micrographs are drawn, chosen evenly through the list.
    thumbnail_side_px
        Longer side of each drawn micrograph in pixels: shown 480 px wide, and at full
        size when clicked.
    threshold
        Picks scoring below this are left out of the thumbnails, counts and P/R/F1 (the
        histogram and the precision-recall curve show every pick). None: keep all.
    diameter_px
        Particle diameter in original pixels (circles; the match radius is half of it).
        None: the median ``diameter_px`` of the picks, then of the truth.
    apix
        Pixel size in Å/px, for micrographs whose header has none.
    title
        The page's title.
    """

    max_thumbnails: int = 6
    thumbnail_side_px: int = 1024
    threshold: float | None = None
    diameter_px: float | None = None
    apix: float | None = None
    title: str = "cryopick report"

    def __post_init__(self) -> None:
        if self.max_thumbnails < 0 or self.thumbnail_side_px < 32:
            raise CryopickError(f"cannot draw {self.max_thumbnails} thumbnails of {self.thumbnail_side_px} px",
                                fix="give 0 or more thumbnails of at least 32 px (e.g. 6 of 480)")
        for name in ("diameter_px", "apix"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise CryopickError(f"{name} must be positive, not {value}", fix=f"give a positive {name}")


def _css() -> str:
    """The page's style sheet (``assets/report.css``), one rule a line."""
    return resources.files("cryopick.reports").joinpath("assets/report.css").read_text(encoding="utf-8").strip()


def esc(text: object) -> str:
    """``text`` as HTML-safe characters (``<``, ``>``, ``&`` and both quotes escaped)."""
    return html.escape(str(text), quote=True)


def figure_png(fig: Figure) -> bytes:
    """Render a matplotlib figure (Agg, no pyplot) to PNG bytes."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, pil_kwargs={"compress_level": 6})
    return buffer.getvalue()


def compact_png(png: bytes, grey_levels: int = 96) -> bytes:
    """``png`` with a palette of grey levels and the overlay colours: about half the bytes.

    A fixed palette keeps a rare colour (one red circle) that an adaptive one would merge away.
    """
    overlay = (PICK_COLOUR, TRUTH_COLOUR, MATCHED_COLOUR, FALSE_COLOUR)
    colours = [int(colour[i:i + 2], 16) for colour in overlay for i in (1, 3, 5)]
    greys = [round(i * 255 / (grey_levels - 1)) for i in range(grey_levels) for _ in range(3)]
    palette = Image.new("P", (1, 1))
    palette.putpalette(greys + colours)
    with Image.open(io.BytesIO(png)) as image:
        quantised = image.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    quantised.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _rendered(plot: Callable[..., Path], *args: Any, **kwargs: Any) -> bytes:
    """PNG bytes from one of :mod:`cryopick.reports.figures`'s plotters, which write to a path."""
    with tempfile.TemporaryDirectory(prefix="cryopick-report-") as folder:
        path = Path(folder) / "plot.png"
        plot(*args, path=path, **kwargs)
        return path.read_bytes()


def _img(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` as a data URI."""
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{esc(alt)}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 0) -> str:
    """An HTML table; the first ``left`` columns are left-aligned; every cell is escaped."""
    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(f'<{tag}{" class=l" if i < left else ""}>{esc(v)}</{tag}>' for i, v in enumerate(values))
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><tr>{cells('th', header)}</tr>{body}</table>"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def evenly(n: int, k: int) -> list[int]:
    """At most ``k`` indices spread evenly over ``range(n)``, first and last included."""
    return [] if n <= 0 or k <= 0 else sorted(set(np.linspace(0, n - 1, min(k, n)).round().astype(int).tolist()))


def _diameter_px(config: ReportConfig, *tables: pd.DataFrame | None) -> float | None:
    return float(config.diameter_px) if config.diameter_px is not None else typical_diameter_px(*tables)


# ------------------------------------------------------------------------------ sections


def _thumbnails(paths: Sequence[Path], kept: pd.DataFrame, truth: pd.DataFrame | None,
                diameter_px: float | None, radius_px: float | None, config: ReportConfig) -> str:
    chosen = [paths[i] for i in evenly(len(paths), config.max_thumbnails)]
    if (len(kept) or truth is not None) and diameter_px is None:
        raise CryopickError("cannot tell how big to draw the particles",
                            fix="pass the particle diameter (--diameter), or picks that carry one")
    figures = []
    for path in chosen:  # one micrograph in memory at a time
        mic = read_micrograph(path, config.apix, allow_nonfinite=True)
        mine = picks_for(kept, mic.name)
        theirs = None if truth is None else picks_for(truth, mic.name)
        png = compact_png(_rendered(plot_overlay, mic.data, picks=mine, truth=theirs, diameter_px=diameter_px,
                                    radius_px=radius_px, max_side_px=config.thumbnail_side_px))
        del mic
        caption = f"{micrograph_name(path)}: {len(mine)} picks" + (
            "" if theirs is None else f", {len(theirs)} true particles")
        anchor = f"mic-{len(figures)}"  # click: the figure fills the window (CSS :target); click again: back
        figures.append(f'<figure class="mic" id="{anchor}"><a href="#{anchor}" title="click to enlarge">'
                       f"{_img(png, micrograph_name(path))}</a><figcaption>{esc(caption)}</figcaption>"
                       '<a href="#micrographs" class="close" title="click to go back"></a></figure>')
    legend = ("green: picks matched to a true particle, red: picks matched to none, dashed yellow: missed particles"
              if truth is not None else "cyan circles: picks")
    return (f"<p>{len(chosen)} of {len(paths)} micrographs, chosen evenly; {esc(legend)}. Click a micrograph to "
            "enlarge it, and again to go back.</p>"
            f'<div class="grid">{"".join(figures)}</div>')


def _scores(picks: pd.DataFrame, threshold: float | None, names: Sequence[str]) -> str:
    scores = picks["score"].to_numpy(np.float64)
    finite = scores[np.isfinite(scores)]
    calibrated = bool(finite.size) and bool(((finite >= 0) & (finite <= 1)).all())
    summary = summarise_scores(picks, -math.inf if threshold is None else threshold, calibrated=calibrated,
                               complete=False, micrographs=names)
    edges, counts = np.asarray(summary.bin_edges), np.asarray(summary.counts)
    fig = Figure(figsize=(7.0, 3.6), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#4c78a8", edgecolor="white")
    if threshold is not None:
        ax.axvline(threshold, color="#d62728", linewidth=2, label=f"threshold {threshold:.3g}")
    else:
        ax.axvline(finite.min(), color="0.4", linestyle="--", label=f"lowest score {finite.min():.3g} (no threshold)")
    ax.legend(loc="best", fontsize=9)
    ax.set(xlabel="score (probability)" if calibrated else "score", ylabel="picks")
    ax.grid(True, axis="y", color="0.92")
    fig.tight_layout()
    line = (f"{len(finite)} scored picks, scores {finite.min():.3g} to {finite.max():.3g} "
            f"(median {np.median(finite):.3g})")
    line += ("; no threshold given, so every pick is kept" if threshold is None
             else f"; {int((finite >= threshold).sum())} score at least the threshold {threshold:.3g}")
    if finite.size < len(scores):
        line += f"; {len(scores) - finite.size} picks have no score"
    return f"<p>{esc(line)}.</p>{_img(figure_png(fig), 'score histogram')}"


def _counts(kept: pd.DataFrame, names: Sequence[str]) -> str:
    counts = kept["micrograph"].value_counts().reindex(list(names), fill_value=0).to_numpy(np.int64)
    fig = Figure(figsize=(7.0, 3.4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if len(names) <= 60:
        ax.bar(np.arange(len(names)), counts, color="#4c78a8")
        ax.set(xlabel="micrograph (in order)", ylabel="picks")
        if len(names) <= 12:
            ax.set_xticks(np.arange(len(names)), [n if len(n) <= 14 else n[:13] + "…" for n in names],
                          rotation=30, ha="right", fontsize=8)
    else:
        ax.hist(counts, bins=min(40, max(10, int(counts.max()) + 1)), color="#4c78a8", edgecolor="white")
        ax.set(xlabel="picks on a micrograph", ylabel="micrographs")
    ax.grid(True, axis="y", color="0.92")
    fig.tight_layout()
    zero = [n for n, c in zip(names, counts) if c == 0]
    rows = [["micrographs", len(names)], ["picks", int(counts.sum())], ["min", int(counts.min())],
            ["median", f"{np.median(counts):g}"], ["max", int(counts.max())], ["with zero picks", len(zero)]]
    text = _table(["", "value"], rows, left=1)
    if zero:
        few = ", ".join(zero[:10]) + (f" and {len(zero) - 10} more" if len(zero) > 10 else "")
        text += f"<p>Without picks: {esc(few)}.</p>"
    return f'<div class="grid"><div>{text}</div>{_img(figure_png(fig), "picks per micrograph")}</div>'


def _truth(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float, threshold: float | None) -> str:
    result = evaluate(picks, truth, radius_px, threshold)
    at = "every pick" if threshold is None else f"threshold {threshold:.3g}"
    best = "n/a" if not math.isfinite(result.best_threshold) else f"{result.best_threshold:.3g}"
    rows = [[at, result.n_picks, result.n_truth, result.n_matched, _fmt(result.precision), _fmt(result.recall),
             _fmt(result.f1), _fmt(result.average_precision), f"{_fmt(result.best_f1)} at {best}"]]
    table = _table(["picks judged", "picks", "truth", "matched", "precision", "recall", "F1", "AP", "best F1"],
                   rows, left=1)
    png = _rendered(plot_pr_curve, {"picks": result.curve}, title="Precision-recall against truth")
    return (f"<p>Picks match true particles one-to-one within {radius_px:.1f} px (half the diameter given, "
            "else the truth's, else the picks', as <code>cryopick evaluate</code> matches). The curve sweeps the "
            f"threshold over every pick; the dot is the best F1.</p>{table}{_img(png, 'precision-recall curve')}")


def training_history(training: Mapping[str, Any]) -> dict[str, list[float]]:
    """The per-epoch history of a model file's training record, as ``{column: values}``.

    The record is read by :func:`cryopick.pickers.training_record.training_record`, so
    every layout cryopick wrote works (the common one, and the FCN's older list of
    per-epoch rows: round, epoch, train_loss, val_risk, ...). Non-numeric columns are
    dropped; an absent or empty history gives ``{}``.
    """
    history = training_record(training).get("history")
    if not isinstance(history, Mapping):
        return {}
    columns: dict[str, list[float]] = {}
    for key, values in history.items():
        if not isinstance(values, Sequence) or isinstance(values, str) or not values:
            continue
        try:
            columns[str(key)] = [math.nan if v is None else float(v) for v in values]
        except (TypeError, ValueError):
            continue
    n = max((len(v) for v in columns.values()), default=0)
    return {k: v for k, v in columns.items() if len(v) == n and n > 0}


def _training(raw: Mapping[str, Any]) -> str | None:
    training = training_record(raw)
    history = training_history(training)
    losses = [k for k in history if "loss" in k or "risk" in k]
    accuracies = [k for k in history if "accuracy" in k]
    if not losses and not accuracies:
        return None
    n = len(next(iter(history.values())))
    x = np.arange(1, n + 1)
    panels = [(group, label) for group, label in ((losses, "loss"), (accuracies, "accuracy")) if group]
    rounds = np.asarray(history.get("round", []))
    boundaries = np.flatnonzero(np.diff(rounds) != 0) + 1.5 if rounds.size else np.zeros(0)
    fig = Figure(figsize=(5.2 * len(panels), 3.6), dpi=100)
    for i, (group, label) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key in group:
            ax.plot(x, history[key], marker="o" if n <= 30 else None, markersize=3, label=key.replace("_", " "))
        for boundary in boundaries:
            ax.axvline(boundary, color="0.6", linestyle=":", linewidth=1)
        ax.set(xlabel="epoch (all rounds)" if rounds.size else "epoch", ylabel=label)
        ax.grid(True, color="0.92")
        ax.legend(fontsize=9)
    fig.tight_layout()
    plain = [[k, _fmt(v, 4) if isinstance(v, float) else v] for k, v in training.items()
             if isinstance(v, (int, float, str)) and not isinstance(v, bool)]
    if isinstance(reasons := training.get("stop_reasons"), list) and reasons:
        plain.append(["stop_reasons", "; ".join(str(r) for r in reasons)])
    note = "; dotted lines separate training rounds" if boundaries.size else ""
    return (f"<p>{n} epochs{esc(note)}.</p>{_img(figure_png(fig), 'training curves')}"
            + (_table(["", "value"], plain, left=2) if plain else ""))


# ------------------------------------------------------------------------------ the page


def build_report(picks: pd.DataFrame, micrographs: Sequence[str | Path] = (), *,
                 truth: pd.DataFrame | None = None, training: Mapping[str, Any] | None = None,
                 config: ReportConfig = ReportConfig(), sources: Mapping[str, str | Path] | None = None) -> str:
    """The report as one HTML document (see :func:`write_report` to write it).

    Parameters
    ----------
    picks
        A Picks table (``micrograph, x, y, score, diameter_px``; original pixels).
    micrographs
        The micrograph files picked; those without picks count with 0. Only the
        thumbnailed ones are read. Empty: no thumbnails.
    truth
        True particles: adds the precision-recall section. With ``micrographs`` given,
        only truth on those (and on picked ones) is judged.
    training
        A model file's training record (``LoadedModel.training``): adds the training
        curves when it holds a per-epoch history.
    config
        What to show, see :class:`ReportConfig`.
    sources
        ``{label: file}`` listed at the top (e.g. ``{"picks": "picks.star"}``).

    Raises
    ------
    CryopickError
        A threshold is given but no pick has a score, there is no truth to judge, the
        particle size cannot be told, or a micrograph cannot be read.
    """
    picks = validate_picks(picks)
    paths = [Path(p) for p in micrographs]
    names = list(dict.fromkeys([*(micrograph_name(p) for p in paths), *picks["micrograph"]]))
    scores = picks["score"].to_numpy(np.float64)
    threshold = config.threshold
    if threshold is not None and len(picks) and not np.isfinite(scores).any():
        raise CryopickError("a threshold was given but the picks carry no scores",
                            fix="leave out --threshold, or give picks in a format with scores (STAR, CBOX, CSV)")
    kept = picks if threshold is None else picks.loc[scores >= threshold].reset_index(drop=True)
    truth = None if truth is None else validate_picks(truth)
    if truth is not None and paths:  # judge the micrographs given: truth elsewhere would count as missed
        truth = truth.loc[truth["micrograph"].isin(names)].reset_index(drop=True)
    diameter_px = _diameter_px(config, picks, truth)
    # matched as `cryopick evaluate` matches: half the diameter given, else the truth's, else the picks'
    radius_px = config.diameter_px / 2.0 if config.diameter_px is not None else default_radius_px(truth, picks)

    sections: list[tuple[str, str]] = []
    absent: list[str] = []

    def add(key: str, body: str | None, why: str) -> None:
        if body is None:
            absent.append(why)
        else:
            sections.append((key, body))

    show = bool(paths) and config.max_thumbnails > 0
    add("micrographs", _thumbnails(paths, kept, truth, diameter_px, radius_px, config) if show else None,
        "micrographs: " + ("none given" if not paths else "max_thumbnails is 0"))
    add("scores", _scores(picks, threshold, names) if np.isfinite(scores).any() else None,
        "score histogram: the picks carry no scores")
    add("counts", _counts(kept, names) if names else None, "picks per micrograph: no picks and no micrographs")
    if truth is not None and radius_px is None:
        raise CryopickError("cannot tell the particle size to set the match radius",
                            fix="pass the particle diameter (--diameter), or picks that carry one")
    add("truth", None if truth is None else _truth(picks, truth, radius_px, threshold),
        "precision-recall: no truth given")
    add("training", None if training is None else _training(training),
        "training curves: " + ("no model given" if training is None else "the model has no history"))

    meta = [f"{len(picks)} picks on {picks['micrograph'].nunique()} micrographs"
            + ("" if threshold is None else f", {len(kept)} at threshold {threshold:.3g}")
            + ("" if diameter_px is None else f"; particle diameter {diameter_px:.1f} px")]
    meta += [f"{label}: {value}" for label, value in (sources or {}).items()]
    meta.append(f"cryopick {cryopick.__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    parts = ['<p class="meta">' + "<br>".join(esc(line) for line in meta) + "</p>"]
    parts += [f'<p class="absent">Not shown: {esc(line)}.</p>' for line in absent]
    parts += [f'<section id="{key}"><h2>{SECTION_TITLES[key]}</h2>{text}</section>' for key, text in sections]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(config.title)}</title><style>{_css()}</style></head>\n"
            f"<body><h1>{esc(config.title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(path: str | Path, picks: pd.DataFrame, micrographs: Sequence[str | Path] = (), *,
                 truth: pd.DataFrame | None = None, training: Mapping[str, Any] | None = None,
                 config: ReportConfig = ReportConfig(), sources: Mapping[str, str | Path] | None = None) -> Path:
    """Build the report (see :func:`build_report`) and write it to ``path`` atomically; returns ``path``."""
    page = build_report(picks, micrographs, truth=truth, training=training, config=config, sources=sources)
    write_text_atomic(path, page)
    return Path(path)
