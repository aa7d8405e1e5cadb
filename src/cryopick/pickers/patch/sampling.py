"""Training patches for the patch classifiers: which crops are cut, and the data set of many micrographs.

* **Scheme (a):** each labelled particle's crop and its 90, 180 and 270 degree rotations.
  **Scheme (b):** the centred crop and ``n_offsets`` crops shifted by up to
  ``offset_max_diameters`` diameters. Both draw negatives at random centres at least
  ``negative_min_distance_diameters`` diameters from every labelled particle, as many as
  the positives (balanced classes).

:func:`sample_patches` does it for one micrograph at the patch scale
(:func:`cryopick.pickers.patch.patches.prepare_image`), :func:`build_patch_set` for every
labelled micrograph, each with its own random stream (:func:`micrograph_rng`). Settings,
the patch scale and the cutting itself are :mod:`cryopick.pickers.patch.patches`.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import check_inside, validate_picks
from cryopick.pickers.patch.patches import PatchConfig, PatchSet, extract_patches, prepare_image
from cryopick.preprocess import Preprocessed

__all__ = ["build_patch_set", "micrograph_rng", "sample_patches"]

log = logging.getLogger(__name__)


def sample_patches(pre: Preprocessed, particles_xy: np.ndarray, config: PatchConfig,
                   rng: np.random.Generator, group_offset: int = 0) -> PatchSet:
    """Positive and negative patches from one micrograph at the patch scale.

    Parameters
    ----------
    pre
        The micrograph from :func:`prepare_image`.
    particles_xy
        (n, 2) labelled particle centres (x, y) in ORIGINAL micrograph pixels. Particles
        whose box leaves the image are used too: the crop is completed by mirroring.
    config
        Scheme and distances.
    rng
        Source of the offsets and negative centres.
    group_offset
        First group id to use; ids run from here, one per particle then one per negative.

    Returns
    -------
    PatchSet
        Positives (grouped by particle) then negatives. Negatives are centred on random,
        distinct pixels of the patch-scale image whose distance to every labelled particle
        is at least ``negative_min_distance_diameters`` diameters in original pixels; if
        too few such pixels exist (a crowded micrograph) all of them are used and a
        warning is logged.

    Raises
    ------
    CryopickError
        If a label lies outside the micrograph.
    """
    xy = np.asarray(particles_xy, dtype=np.float64).reshape(-1, 2)
    ny_w, nx_w = pre.image.shape
    nx_orig, ny_orig = nx_w * pre.scale_x, ny_w * pre.scale_y
    d_orig = pre.diameter_px * 0.5 * (pre.scale_x + pre.scale_y)
    _check_labels_inside(xy, pre.name, nx_orig, ny_orig)
    if len(xy) == 0:
        return PatchSet.empty(config.patch_px)

    centres_w, groups = _positive_centres(pre, xy, d_orig, config, rng)
    pos = extract_patches(pre.image, centres_w, config.patch_px)
    if config.scheme == "a":
        pos = np.stack([np.rot90(pos, k, axes=(1, 2)) for k in range(4)], axis=1).reshape(-1, *pos.shape[1:])
        groups = np.repeat(groups, 4)
        centres_w = np.repeat(centres_w, 4, axis=0)
    n_pos = len(pos)
    n_neg = round(config.negatives_per_positive * n_pos)
    neg_w = _negative_centres(pre, xy, config.negative_min_distance_diameters * d_orig, n_neg, rng)
    neg = extract_patches(pre.image, neg_w, config.patch_px)

    centres_w = np.concatenate([centres_w, neg_w]).astype(np.float64)
    n_groups = len(xy)
    return PatchSet(
        patches=np.concatenate([pos, neg]),
        labels=np.concatenate([np.ones(n_pos, np.float32), np.zeros(len(neg), np.float32)]),
        groups=np.concatenate([groups, n_groups + np.arange(len(neg))]).astype(np.int64) + int(group_offset),
        micrographs=np.full(n_pos + len(neg), pre.name, dtype=object).astype(str),
        centres_xy=np.stack(pre.to_original(centres_w[:, 0], centres_w[:, 1]), axis=1),
    )


def _check_labels_inside(xy: np.ndarray, name: str, nx: float, ny: float) -> None:
    outside = ~np.isfinite(xy).all(axis=1)
    outside |= (xy[:, 0] < -0.5) | (xy[:, 1] < -0.5) | (xy[:, 0] > nx - 0.5) | (xy[:, 1] > ny - 0.5)
    if outside.any():
        x, y = xy[np.flatnonzero(outside)[0]]
        raise CryopickError(
            f"{int(outside.sum())} label(s) lie outside micrograph {name} of {nx:.0f}x{ny:.0f} px, "
            f"e.g. ({x:.1f}, {y:.1f})",
            fix="check the coordinates are in pixels of these micrographs (binning? --flip-y?)",
        )


def _to_working_pixels(pre: Preprocessed, xy_orig: np.ndarray) -> np.ndarray:
    """Original (x, y) to the nearest working pixel, kept inside the image."""
    ny_w, nx_w = pre.image.shape
    x = np.clip(np.floor(xy_orig[:, 0] / pre.scale_x + 0.5), 0, nx_w - 1)
    y = np.clip(np.floor(xy_orig[:, 1] / pre.scale_y + 0.5), 0, ny_w - 1)
    return np.stack([x, y], axis=1)


def _positive_centres(pre: Preprocessed, xy: np.ndarray, d_orig: float, config: PatchConfig,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Working-pixel centres of the positive crops (before rotation) and their group index."""
    ids = np.arange(len(xy))
    if config.scheme == "a":
        return _to_working_pixels(pre, xy), ids
    k = config.n_offsets
    length = config.offset_max_diameters * d_orig * (1.0 - rng.random((len(xy), k)))  # in (0, max]
    angle = rng.uniform(0.0, 2.0 * np.pi, (len(xy), k))
    shifted = xy[:, None, :] + np.stack([length * np.cos(angle), length * np.sin(angle)], axis=-1)
    # the centred crop first, then the offset crops; offsets past the edge are clipped to it
    all_xy = np.concatenate([xy[:, None, :], shifted], axis=1).reshape(-1, 2)
    return _to_working_pixels(pre, all_xy), np.repeat(ids, k + 1)


def _negative_centres(pre: Preprocessed, xy: np.ndarray, min_distance_orig: float, n: int,
                      rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct random working pixels at least ``min_distance_orig`` original px from every label.

    Pixels too close to a label are marked exactly (distances in original pixels, over a
    stencil around each label), then ``n`` of the free pixels are drawn without
    replacement: no rejection loop, so a crowded micrograph costs no more than a sparse one.
    """
    ny_w, nx_w = pre.image.shape
    if n <= 0:
        return np.zeros((0, 2))
    blocked = np.zeros((ny_w, nx_w), dtype=bool)
    if min_distance_orig > 0 and len(xy):
        rx = math.ceil(min_distance_orig / pre.scale_x) + 1
        ry = math.ceil(min_distance_orig / pre.scale_y) + 1
        oy, ox = np.mgrid[-ry : ry + 1, -rx : rx + 1]
        base = _to_working_pixels(pre, xy).astype(np.intp)
        px = base[:, 0, None] + ox.ravel()[None, :]  # (n_labels, stencil) working pixels
        py = base[:, 1, None] + oy.ravel()[None, :]
        dist2 = (px * pre.scale_x - xy[:, 0, None]) ** 2 + (py * pre.scale_y - xy[:, 1, None]) ** 2
        hit = (dist2 < min_distance_orig**2) & (px >= 0) & (px < nx_w) & (py >= 0) & (py < ny_w)
        blocked[py[hit], px[hit]] = True
    free = np.flatnonzero(~blocked.ravel())
    if len(free) < n:
        log.warning("%s: only %d background pixels lie %.1f px or more from every label; "
                    "using %d negatives instead of %d (crowded micrograph)",
                    pre.name, len(free), min_distance_orig, len(free), n)
        n = len(free)
    chosen = np.sort(rng.choice(free, size=n, replace=False)) if n else free[:0]
    return np.stack([chosen % nx_w, chosen // nx_w], axis=1).astype(np.float64)


# ----------------------------------------------------------------------------- data set


def micrograph_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of one micrograph: depends on the seed and its name only."""
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def build_patch_set(micrographs: Iterable[Micrograph], labels: pd.DataFrame, diameter_A: float,
                    config: PatchConfig = PatchConfig()) -> PatchSet:
    """Patches from every labelled micrograph, concatenated in the order given.

    The micrographs are read in one pass and each is dropped once sampled, so a
    generator that reads files lazily keeps only one micrograph in memory.

    Parameters
    ----------
    micrographs
        The micrographs (any iterable); only those named (by file stem) in ``labels``
        contribute, the others are skipped.
    labels
        A Picks table of particle centres in original pixels.
    diameter_A
        Particle diameter in Å.
    config
        Patch settings; the result depends only on it (``seed``), the micrographs and
        the labels. Each micrograph's random stream depends on the seed and its name.

    Raises
    ------
    CryopickError
        If no micrograph has a label, two micrographs share a name, or a label lies
        outside its micrograph.
    """
    picks = validate_picks(labels)
    wanted = set(picks["micrograph"])
    seen: list[str] = []
    sets = []
    group_offset = 0
    for mic in micrographs:
        if mic.name in seen:
            raise CryopickError(f"several micrographs share the name {mic.name}",
                                fix="give each micrograph once; names are file stems, so rename one of them")
        seen.append(mic.name)
        if mic.name not in wanted:
            continue
        rows = check_inside(picks.loc[picks["micrograph"] == mic.name], {mic.name: mic.shape})
        pre = prepare_image(mic, diameter_A, config)
        xy = rows[["x", "y"]].to_numpy(dtype=np.float64)
        part = sample_patches(pre, xy, config, micrograph_rng(config.seed, mic.name), group_offset)
        if len(part):
            group_offset = int(part.groups.max()) + 1
        sets.append(part)
    if not sets:
        unknown = sorted(wanted)
        few = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        have = ", ".join(seen[:3]) + (" ..." if len(seen) > 3 else "")
        raise CryopickError(
            f"no labelled particles in the given micrographs (labels name {few or 'nothing'}; "
            f"micrographs are {have or 'none'})",
            fix="names match by file stem: rename the files or the label entries so the stems agree",
        )
    missing = wanted - set(seen)
    if missing:
        log.warning("labels name %d micrograph(s) that were not given, e.g. %s; they are skipped",
                    len(missing), sorted(missing)[0])
    out = PatchSet.concatenate(sets)
    log.info("%d patches (%d positive) from %d micrograph(s), scheme %s",
             len(out), int(out.labels.sum()), len(sets), config.scheme)
    return out
