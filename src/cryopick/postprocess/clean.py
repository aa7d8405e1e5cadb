"""Clean picks by conventional means: rotation-invariant features, PCA, clustering.

The talk's advice to "combine with conventional methods": after picking, every pick is
boxed out of its micrograph and described by features that do not change when the
particle turns in the plane:

* the **rotational average** of the box (mean in rings out to 0.75 diameters), which sees
  size, darkness and a halo;
* the **rotational spread** (standard deviation in the same rings), which sees texture:
  dots, carbon and ice edges have far more of it than particles;
* **polar Fourier magnitudes**: on three rings, the magnitudes of angular orders 1-6
  (an edge or a dumbbell has strong order 1 or 2; a round blob has none).

The features are standardised robustly (median and MAD over all picks), reduced by PCA
and clustered by k-means. The largest cluster is taken to be the particles; a cluster
whose picks lie, by their median, further than ``junk_distance`` robust spreads from it
is flagged as junk (an RMS over the principal components, so 1 is a typical particle).
Every pick keeps its cluster and distance, so a person can overrule the flags by cluster
(``cryopick clean --keep-cluster`` / ``--reject-cluster``), looking at each cluster's
average image.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import picks_for
from cryopick.pickers.patch.patches import extract_patches
from cryopick.preprocess import PreprocessConfig, median_and_spread, preprocess

CLEAN_PREPROCESS = PreprocessConfig(working_diameter_px=24.0)
"""Working scale for the boxes: the particle is 24 px wide."""

N_RINGS = 9
ANGULAR_ORDERS = 6
FOURIER_RADII_DIAMETERS = (0.15, 0.3, 0.45)
N_ANGLES = 32
MAX_BOXES_KEPT = 50_000
"""Boxes kept (float16) for the cluster averages; features are kept for every pick."""


@dataclass(frozen=True)
class CleanConfig:
    """How picks are cleaned.

    Attributes
    ----------
    box_diameters
        Side of the box around each pick, in particle diameters.
    n_components
        Principal components kept.
    n_clusters
        k-means clusters (fewer if there are fewer picks).
    junk_distance
        A cluster whose median distance from the median pick exceeds this (robust
        spreads, RMS over the components) is flagged as junk.
    seed
        Seed of the k-means initialisation.
    """

    box_diameters: float = 1.2
    n_components: int = 6
    n_clusters: int = 8
    junk_distance: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.box_diameters >= 1.0:
            raise CryopickError(f"box must be at least one diameter, got {self.box_diameters}", fix="use e.g. 1.5")
        if self.n_components < 1 or self.n_clusters < 1:
            raise CryopickError("components and clusters must be at least 1", fix="use the defaults (6 and 8)")
        if not self.junk_distance > 0:
            raise CryopickError(f"junk distance must be positive, got {self.junk_distance}", fix="use e.g. 6")


@dataclass
class CleanResult:
    """Every pick with its cluster, distance and verdict; one row per cluster; cluster averages.

    ``picks`` has the input columns plus ``cluster`` (int), ``distance`` (robust spreads
    from the median pick) and ``junk`` (bool). ``clusters`` has ``cluster, n_picks,
    median_distance, junk``. ``averages`` is (n_clusters, box, box) at the working scale,
    dark particles dark.
    """

    picks: pd.DataFrame
    clusters: pd.DataFrame
    averages: np.ndarray

    @property
    def kept(self) -> pd.DataFrame:
        return self.picks.loc[~self.picks["junk"]].reset_index(drop=True)

    @property
    def rejected(self) -> pd.DataFrame:
        return self.picks.loc[self.picks["junk"]].reset_index(drop=True)

    def with_verdicts(self, keep: Iterable[int] = (), reject: Iterable[int] = ()) -> CleanResult:
        """The same result with clusters ``keep`` forced to kept and ``reject`` to rejected."""
        keep, reject = {int(c) for c in keep}, {int(c) for c in reject}
        unknown = (keep | reject) - set(self.clusters["cluster"])
        if unknown:
            raise CryopickError(f"no cluster {sorted(unknown)}; the clusters are 0-{len(self.clusters) - 1}",
                                fix="name clusters from the clean-up report")
        if keep & reject:
            raise CryopickError(f"cluster(s) {sorted(keep & reject)} both kept and rejected", fix="name each once")
        clusters = self.clusters.copy()
        clusters.loc[clusters["cluster"].isin(keep), "junk"] = False
        clusters.loc[clusters["cluster"].isin(reject), "junk"] = True
        picks = self.picks.copy()
        picks["junk"] = clusters.set_index("cluster")["junk"].reindex(picks["cluster"]).to_numpy()
        return CleanResult(picks, clusters, self.averages)


def particle_boxes(mic: Micrograph, xy_orig: np.ndarray, diameter_A: float,
                   box_diameters: float = CleanConfig.box_diameters) -> tuple[np.ndarray, float]:
    """Boxes around picks (original pixels) at the working scale; returns (boxes, diameter_px).

    Boxes are float32 (n, box, box) of the high-passed, robust-normalised micrograph with
    the particle :data:`CLEAN_PREPROCESS` ``.working_diameter_px`` wide (fewer pixels if
    the micrograph is already coarser). Boxes leaving the micrograph are mirrored at its edge.
    """
    pre = preprocess(mic, diameter_A, CLEAN_PREPROCESS)
    box_px = int(math.ceil(box_diameters * pre.diameter_px)) | 1  # odd: the pick on the centre pixel
    xy = np.asarray(xy_orig, dtype=np.float64).reshape(-1, 2)
    xw = np.clip(xy[:, 0] / pre.scale_x, 0, pre.image.shape[1] - 1)
    yw = np.clip(xy[:, 1] / pre.scale_y, 0, pre.image.shape[0] - 1)
    return extract_patches(pre.image, np.c_[xw, yw], box_px), float(pre.diameter_px)


def rotation_invariant_features(boxes: np.ndarray, diameter_px: float, reach_diameters: float = 0.75) -> np.ndarray:
    """(n, features) that do not change when a box turns about its centre (see the module docstring).

    The rings reach ``reach_diameters`` from the centre.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    n, size, _ = boxes.shape
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot(xx - c, yy - c) / diameter_px
    ring = np.minimum((radius / (reach_diameters / N_RINGS)).astype(int), N_RINGS)  # N_RINGS = outside
    flat = boxes.reshape(n, -1)
    means, spreads = [], []
    for r in range(N_RINGS):
        members = (ring == r).ravel()
        if not members.any():  # a tiny box: the centre ring can be empty
            means.append(np.zeros(n, np.float32))
            spreads.append(np.zeros(n, np.float32))
            continue
        values = flat[:, members]
        means.append(values.mean(axis=1))
        spreads.append(values.std(axis=1))
    angles = np.linspace(0.0, 2.0 * np.pi, N_ANGLES, endpoint=False)
    orders = []
    for r_d in FOURIER_RADII_DIAMETERS:
        r_px = r_d * diameter_px
        samples = _bilinear(boxes, c + r_px * np.sin(angles), c + r_px * np.cos(angles))
        spectrum = np.abs(np.fft.rfft(samples, axis=1))[:, 1:ANGULAR_ORDERS + 1] / N_ANGLES
        orders.append(spectrum)
    return np.column_stack(means + spreads + orders).astype(np.float64)


def _bilinear(boxes: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(n, points): every box sampled at the same fractional (row, col) points, edges held."""
    size = boxes.shape[1]
    rows, cols = np.clip(rows, 0, size - 1), np.clip(cols, 0, size - 1)
    r0 = np.minimum(np.floor(rows).astype(int), size - 2) if size > 1 else np.zeros(rows.size, int)
    c0 = np.minimum(np.floor(cols).astype(int), size - 2) if size > 1 else np.zeros(cols.size, int)
    r1, c1 = np.minimum(r0 + 1, size - 1), np.minimum(c0 + 1, size - 1)
    fr, fc = rows - r0, cols - c0
    return ((1 - fr) * (1 - fc) * boxes[:, r0, c0] + (1 - fr) * fc * boxes[:, r0, c1]
            + fr * (1 - fc) * boxes[:, r1, c0] + fr * fc * boxes[:, r1, c1])


def cluster_features(features: np.ndarray, config: CleanConfig = CleanConfig()) -> tuple[np.ndarray, np.ndarray]:
    """k-means clusters in robust PCA space; returns (cluster per pick, distance per pick).

    Clusters are numbered by decreasing size. The largest, cluster 0, is taken to be the
    particles: the distance is the RMS, over the principal components, of each pick's
    robust z-score against cluster 0 (median and 1.4826 MAD of each component over its
    members). Junk can be a third of the picks or more (dots on a dirty grid), and a
    spread taken over all picks would then hide it.
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, int), np.zeros(0)
    centre, spread = median_and_spread(x, axis=0)
    spread = np.where(spread > 0, spread, np.maximum(x.std(axis=0), 1e-12))
    z = np.clip((x - centre) / spread, -50.0, 50.0)  # one extreme pick must not own a component
    k = min(config.n_components, z.shape[1], max(1, n - 1))
    _, _, vt = np.linalg.svd(z - z.mean(axis=0), full_matrices=False)
    scores = z @ vt[:k].T
    n_clusters = min(config.n_clusters, n)
    labels = np.zeros(n, int) if n_clusters == 1 else _renumber(
        kmeans2(scores, n_clusters, minit="++", seed=config.seed)[1])
    # the largest cluster is taken as the particles: the distance is from its median, in its spreads
    reference = scores[labels == 0]
    s_centre, s_spread = median_and_spread(reference, axis=0)
    s_spread = np.where(s_spread > 0, s_spread, 1.0)
    distance = np.sqrt(np.mean(((scores - s_centre) / s_spread) ** 2, axis=1))
    return labels, distance


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Clusters numbered 0, 1, ... by decreasing size (empty k-means clusters dropped)."""
    sizes = np.bincount(labels)
    order = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
    mapping = np.full(sizes.size, -1)
    mapping[order] = np.arange(len(order))
    return mapping[labels]


def clean_picks(micrographs: Iterable[Micrograph], picks: pd.DataFrame, diameter_A: float,
                config: CleanConfig = CleanConfig()) -> CleanResult:
    """Cluster the picks on the given micrographs and flag the junk clusters.

    Parameters
    ----------
    micrographs
        The micrographs the picks are on (read one at a time; picks on others are left out).
    picks
        A Picks table (``micrograph, x, y, ...``) in original pixels.
    diameter_A
        Particle diameter in Å.
    config
        Box, PCA, clustering and the junk cut.

    Returns
    -------
    CleanResult
    """
    features, boxes, rows = [], [], []
    kept_boxes, diameter_px = 0, float("nan")
    for mic in micrographs:
        mine = picks_for(picks, mic.name)
        if mine.empty:
            continue
        box, diameter_px = particle_boxes(mic, mine[["x", "y"]].to_numpy(), diameter_A, config.box_diameters)
        features.append(rotation_invariant_features(box, diameter_px, config.box_diameters / 2))
        take = max(0, min(len(box), MAX_BOXES_KEPT - kept_boxes))
        boxes.append(box[:take].astype(np.float16))
        kept_boxes += take
        rows.append(mine)
    if not rows:
        raise CryopickError("no pick lies on the micrographs given",
                            fix="give the micrographs the picks were made on (names match by file stem)")
    table = pd.concat(rows, ignore_index=True)
    cluster, distance = cluster_features(np.concatenate(features), config)
    table["cluster"] = cluster
    table["distance"] = distance
    summary = table.groupby("cluster").agg(n_picks=("x", "size"), median_distance=("distance", "median"))
    summary = summary.reset_index()
    summary["junk"] = summary["median_distance"] > config.junk_distance
    table["junk"] = summary.set_index("cluster")["junk"].reindex(table["cluster"]).to_numpy()
    all_boxes = np.concatenate(boxes).astype(np.float32)
    labels = cluster[: len(all_boxes)]
    averages = np.stack([all_boxes[labels == c].mean(axis=0) if np.any(labels == c)
                         else np.zeros(all_boxes.shape[1:], np.float32) for c in summary["cluster"]])
    return CleanResult(table, summary, averages)


__all__ = ["CLEAN_PREPROCESS", "CleanConfig", "CleanResult", "clean_picks", "cluster_features", "particle_boxes",
           "rotation_invariant_features"]
