"""The 3D picker's own threshold: Otsu's cut of its candidates' scores on the training tomograms.

The nnPU-trained network scores particles in one cluster (0.4-0.95 on the simulated
structures) and background peaks in another near 0, with little between. Otsu's rule
(the cut that maximises the between-class variance of the two sides) finds that gap
without a label or a count. It replaced "the counted-th strongest peak", which cut
inside the particles' cluster whenever the count ran low: the labelled particles were
training positives and so scored above the unlabelled ones, which made the count low
(docs/tomograms.md has the measurements).
"""

from __future__ import annotations

import numpy as np

FALLBACK = 0.5
"""The threshold when the scores do not split (fewer than two distinct values)."""


def otsu_threshold(scores: np.ndarray, bins: int = 256) -> float:
    """Otsu's cut of ``scores`` in [0, 1]: the bin edge maximising the between-class variance."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    scores = scores[np.isfinite(scores)]
    if np.unique(scores).size < 2:
        return FALLBACK
    counts, edges = np.histogram(np.clip(scores, 0.0, 1.0), bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2.0
    below = np.cumsum(counts)[:-1].astype(np.float64)  # a cut at each inner edge
    above = counts.sum() - below
    mean_below = np.cumsum(counts * centres)[:-1] / np.maximum(below, 1.0)
    mean_above = (np.sum(counts * centres) - np.cumsum(counts * centres)[:-1]) / np.maximum(above, 1.0)
    between = below * above * (mean_below - mean_above) ** 2
    return float(edges[1:-1][int(np.argmax(between))])
