"""A page to review picks by hand: accept, reject and add them in a browser, download a STAR file.

The person in the loop: pick with the general model, look at a few micrographs, click
away the picks on junk, click on the particles it missed, download ``reviewed.star``
and fine-tune on it (``cryopick train MIC --coords reviewed.star --init general``).

:func:`write_review_page` writes one self-contained HTML file: each micrograph as a
grey JPEG picture (block-averaged to ``max_side_px``, lightly smoothed, grey from the
median - 3.5 to + 3.5 robust standard deviations, so ice or carbon does not wash the
particles out), every candidate with its score as embedded JSON, and the script
``assets/review.js``. A threshold slider sets which candidates are kept; clicking a
pick flips it (kept to rejected, else to accepted), clicking elsewhere adds one, and
clicking an added pick removes it. Decisions are kept in the browser's localStorage
under the page's id, so closing and opening the page again loses nothing. Nothing is
sent anywhere: the page has no links and loads nothing.

Coordinates stay in pixels of the original micrograph (x = column, y = row); the
downloaded file is RELION 3.0-style STAR (``rlnMicrographName``, ``rlnCoordinateX/Y``,
``rlnAutopickFigureOfMerit``, -999 for added picks) that every cryopick command reads.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.reports.html import esc
from cryopick.io.atomic import write_text_atomic
from cryopick.io.micrographs import read_micrograph
from cryopick.io.names import micrograph_name
from cryopick.io.outputs import output_file
from cryopick.io.picks import picks_for, validate_picks
from cryopick.preprocess import median_and_spread
from cryopick.reports.figures import display_bin, display_range

__all__ = ["ReviewConfig", "review_page", "write_review_page"]


@dataclass(frozen=True)
class ReviewConfig:
    """What the review page shows.

    Attributes
    ----------
    threshold
        Candidates scoring at least this start as kept (the slider starts here); None:
        every candidate.
    max_side_px
        Longest side of each displayed micrograph (block-averaged down to it).
    max_micrographs
        At most this many micrographs on one page (a page holds all its pictures).
    apix
        Pixel size in Å/px, overriding the headers (only needed to read JPG/PNG).
    """

    threshold: float | None = None
    max_side_px: int = 1024
    max_micrographs: int = 24
    apix: float | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise CryopickError(f"threshold must be a number, got {self.threshold}", fix="give e.g. 0.5")
        if self.max_side_px < 64:
            raise CryopickError(f"pictures of {self.max_side_px} px are too small to click on",
                                fix="give at least 64 px (e.g. 1024)")
        if self.max_micrographs < 1:
            raise CryopickError(f"cannot show {self.max_micrographs} micrographs", fix="give 1 or more")


def _picture(data: np.ndarray, max_side_px: int, diameter_px: float) -> tuple[bytes, int, tuple[int, int]]:
    """The micrograph as grey JPEG bytes (a quarter of a PNG's for noisy images), its binning factor and its
    (rows, columns) shown."""
    binned, factor = display_bin(data, max_side_px)
    binned = np.where(np.isfinite(binned), binned, np.nanmedian(binned) if np.isfinite(binned).any() else 0.0)
    sigma = 0.05 * diameter_px / factor  # a light low-pass: particles stand out from the shot noise
    if sigma >= 0.5:
        binned = ndimage.gaussian_filter(binned, sigma)
    centre, spread = median_and_spread(binned.ravel())
    low, high = (centre - 3.5 * spread, centre + 3.5 * spread) if spread > 0 else display_range(binned)
    grey = np.clip((binned - low) / (high - low) * 255.0, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue(), factor, grey.shape


def _star_name(path: Path) -> str:
    """The micrograph as the downloaded STAR names it: the path given, or its name if that has a space."""
    text = str(path)
    return micrograph_name(path) if any(c.isspace() for c in text) else text


def _score(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def review_page(picks: pd.DataFrame, micrographs: Sequence[str | Path], *, diameter_px: float,
                config: ReviewConfig = ReviewConfig()) -> str:
    """The review page's HTML for these picks on these micrographs (read one at a time).

    Parameters
    ----------
    picks
        A Picks table; every candidate of a shown micrograph is embedded with its score.
    micrographs
        The micrographs to review, at most ``config.max_micrographs``; names must be unique.
        Picks of other micrographs are left out, but some pick must name one of these.
    diameter_px
        Particle diameter in pixels of the micrographs: the size of the circles.
    config
        Threshold, picture size, how many micrographs.

    Raises
    ------
    CryopickError
        No micrographs; more than ``max_micrographs``; two with one name; a bad diameter;
        picks of which none names these micrographs.
    """
    if not micrographs:
        raise CryopickError("no micrographs to review", fix="give the micrographs the picks were made on")
    if len(micrographs) > config.max_micrographs:
        raise CryopickError(f"{len(micrographs)} micrographs are too many for one page "
                            f"(at most {config.max_micrographs})",
                            fix="review a few (e.g. 'mics/mic_000[0-4].mrc'); a handful is enough to fine-tune on")
    if not (math.isfinite(diameter_px) and diameter_px > 0):
        raise CryopickError(f"particle diameter {diameter_px} px is not a positive number", fix="give --diameter in Å")
    table = validate_picks(picks)
    entries, seen = [], set()
    for path in map(Path, micrographs):
        mic = read_micrograph(path, config.apix, allow_nonfinite=True)
        name, (ny, nx) = mic.name, mic.data.shape
        if name in seen:
            raise CryopickError(f"two micrographs share the name {name!r}", path=path,
                                fix="give each micrograph once; names (file stems) must be unique")
        seen.add(name)
        jpeg, factor, (rows, cols) = _picture(mic.data, config.max_side_px, diameter_px)
        del mic
        mine = picks_for(table, name)
        candidates = [[round(float(x), 3), round(float(y), 3), _score(s)]
                      for x, y, s in zip(mine["x"], mine["y"], mine["score"], strict=True)]
        entries.append({"name": name, "star_name": _star_name(path), "width": nx, "height": ny,
                        "factor": factor, "view_width": cols, "view_height": rows,
                        "radius_px": 0.5 * diameter_px, "picks": candidates, "jpeg": jpeg})
    if len(table) and not any(e["picks"] for e in entries):
        few = ", ".join(sorted(set(table["micrograph"]))[:3])
        raise CryopickError(f"none of the picks is on these micrographs (the picks name {few} ...; the "
                            f"micrographs are {', '.join(e['name'] for e in entries[:3])} ...)",
                            fix="give the micrographs the picks were made on (names match by file stem)")
    scores = [p[2] for e in entries for p in e["picks"] if p[2] is not None]
    threshold = config.threshold if config.threshold is not None else (min(scores) if scores else 0.0)
    return _html(entries, float(threshold), scores)


def _html(entries: list[dict], threshold: float, scores: list[float]) -> str:
    data = {"threshold": threshold,
            "micrographs": [{k: v for k, v in e.items() if k != "jpeg"} for e in entries]}
    data["id"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    script = resources.files("cryopick.reports").joinpath("assets/review.js").read_text(encoding="utf-8")
    # "<" as its JSON escape: no name can end the script element or open an HTML comment in it
    payload = json.dumps(data, allow_nan=False).replace("<", "\\u003c")
    low, high = (min(scores), max(scores)) if scores else (0.0, 1.0)
    step = (high - low) / 200 if high > low else 0.01
    figures = []
    for k, e in enumerate(entries):
        image = base64.b64encode(e["jpeg"]).decode("ascii")
        figures.append(
            f'<figure><svg id="mic-{k}" viewBox="0 0 {e["view_width"]} {e["view_height"]}" '
            f'width="{e["view_width"]}" height="{e["view_height"]}" role="img" aria-label="{esc(e["name"])}">'
            f'<image href="data:image/jpeg;base64,{image}" width="{e["view_width"]}" height="{e["view_height"]}"/>'
            f'<g id="picks-{k}"></g></svg><figcaption>{esc(e["name"])}: {len(e["picks"])} candidates'
            f"</figcaption></figure>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cryopick review</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; }}
.bar {{ position: sticky; top: 0; background: #fff; padding: .5em 0; border-bottom: 1px solid #ccc; z-index: 1; }}
figure {{ margin: 1em 0; }} svg {{ max-width: 100%; height: auto; cursor: crosshair; }}
circle {{ fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; cursor: pointer; }}
circle.kept {{ stroke: #2ecc40; }} circle.rejected {{ stroke: #ff4136; stroke-dasharray: 4 3; }}
circle.added {{ stroke: #39cccc; }}
</style></head><body>
<div class="bar"><strong>cryopick review</strong>
threshold <input id="threshold" type="range" min="{low:.6g}" max="{high:.6g}" step="{step:.6g}" value="{threshold:.6g}">
<span id="threshold-value">{threshold:.3f}</span> · <span id="tally"></span> ·
<button id="download">Download reviewed.star</button> <button id="reset">Reset</button>
<p>Click a pick to reject it (red, dashed) or to take it back; click a particle it missed to add it (cyan);
click an added pick to remove it. Decisions are kept in this browser. Then
<code>cryopick train MICROGRAPHS --coords reviewed.star --diameter D --init general -o tuned.cryopick</code>.</p></div>
{"".join(figures)}
<script type="application/json" id="cryopick-review-data">{payload}</script>
<script>
{script}
</script>
</body></html>
"""


def write_review_page(path: str | Path, picks: pd.DataFrame, micrographs: Sequence[str | Path], *,
                      diameter_px: float, config: ReviewConfig = ReviewConfig()) -> Path:
    """Write :func:`review_page` to ``path`` atomically; returns the path."""
    target = output_file(Path(path))
    write_text_atomic(target, review_page(picks, micrographs, diameter_px=diameter_px, config=config))
    return target
