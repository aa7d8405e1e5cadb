"""Sliding-window detection with a patch classifier, as the report did it.

The micrograph is brought to the patch scale (the box is ``patch_px`` = 64 pixels, see
:func:`cryopick.pickers.patch.patches.prepare_image`). A window of the box size slides over it with a
stride of a fifth of the box (the report: 180 px windows, stride 36), every window is
classified, and windows whose probability is higher than that of their eight
neighbours on the window grid and at least the threshold (the report: 0.8) become
picks, scored by that probability.

Windows lie wholly inside the micrograph, as in the report, so particles closer to the
edge than half a box are never picked. Every window is classified separately, which is
what makes this approach slow (the fully convolutional picker computes all of them in
one pass); windows are batched so memory stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view

from cryopick.detect import find_peaks
from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import empty_picks, make_picks
from cryopick.models.checkpoint import LoadedModel
from cryopick.pickers.patch.patches import PatchConfig, prepare_image
from cryopick.pickers.patch.train import predict_proba


@dataclass(frozen=True)
class SlidingWindowConfig:
    """How windows are laid out and kept.

    Attributes
    ----------
    threshold
        Minimum probability kept; None: the model's own default (0.8 for the report's
        models). 0 keeps every local maximum (for precision-recall sweeps).
    stride_fraction
        Stride as a fraction of the box; None: the model's own (0.2, the report's 36/180).
    batch_size
        Windows classified at once.
    """

    threshold: float | None = None
    stride_fraction: float | None = None
    batch_size: int = 2048


def window_centres(n: int, patch_px: int, stride_px: float) -> np.ndarray:
    """Centres (in working pixels) of windows that lie wholly inside ``n`` pixels."""
    half = patch_px // 2
    if n < patch_px:
        return np.zeros(0)
    count = int(math.floor((n - patch_px) / stride_px)) + 1
    return half + np.round(np.arange(count) * stride_px)


def window_scores(
    image: np.ndarray,
    loaded: LoadedModel,
    stride_px: float,
    device: torch.device,
    batch_size: int = 2048,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classify every window on the grid.

    Returns
    -------
    scores, centres_x, centres_y
        ``scores[iy, ix]`` is the probability of the window centred at
        ``(centres_x[ix], centres_y[iy])`` (working pixels).
    """
    patch_px = int(loaded.patch_config.get("patch_px", 64))
    cx = window_centres(image.shape[1], patch_px, stride_px)
    cy = window_centres(image.shape[0], patch_px, stride_px)
    scores = np.zeros((cy.size, cx.size), dtype=np.float32)
    if scores.size == 0:
        return scores, cx, cy
    views = sliding_window_view(image, (patch_px, patch_px))
    starts_x = (cx - patch_px // 2).astype(np.int64)
    rows_per_batch = max(1, batch_size // cx.size)
    for first in range(0, cy.size, rows_per_batch):
        rows = (cy[first : first + rows_per_batch] - patch_px // 2).astype(np.int64)
        windows = views[rows[:, None], starts_x[None, :]].reshape(-1, patch_px, patch_px)
        probs = predict_proba(loaded.model, np.ascontiguousarray(windows), batch_size=batch_size, device=device)
        scores[first : first + rows.size] = probs.reshape(rows.size, cx.size)
    return scores, cx, cy


def pick_sliding_window(
    mic: Micrograph,
    loaded: LoadedModel,
    diameter_A: float | None = None,
    config: SlidingWindowConfig = SlidingWindowConfig(),
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """Pick one micrograph with a patch classifier; returns a Picks table (original pixels).

    Parameters
    ----------
    mic
        The micrograph.
    loaded
        A model from :func:`cryopick.models.checkpoint.load_model`; it carries the patch
        scale, the particle diameter it was trained at, the stride and the threshold.
    diameter_A
        Particle diameter in Å; None: the one the model was trained at. A different
        diameter rescales the micrograph so that particle fills the box as in training.
    config
        Threshold and stride overrides.
    device
        Where the classifier runs.
    """
    diameter = float(loaded.diameter_A if diameter_A is None else diameter_A)
    threshold = loaded.threshold if config.threshold is None else config.threshold
    stride_fraction = loaded.stride_fraction if config.stride_fraction is None else config.stride_fraction
    if not 0.0 < stride_fraction <= 1.0:
        raise CryopickError(f"stride fraction must be in (0, 1], got {stride_fraction}", fix="use e.g. 0.2 (box/5)")
    patch_config = PatchConfig(**_known_fields(loaded.patch_config))
    pre = prepare_image(mic, diameter, patch_config)
    stride_px = stride_fraction * patch_config.patch_px
    scores, cx, cy = window_scores(pre.image, loaded, stride_px, torch.device(device), config.batch_size)
    if scores.size == 0:
        return empty_picks()
    # "greater than its surroundings": no other kept window within one grid step (8-neighbourhood)
    gx, gy, score = find_peaks(scores, min_distance_px=1.5, threshold=threshold, subpixel=False)
    if score.size == 0:
        return empty_picks()
    x_work = cx[np.rint(gx).astype(int)]
    y_work = cy[np.rint(gy).astype(int)]
    x_orig, y_orig = pre.to_original(x_work, y_work)
    return make_picks(mic.name, x_orig, y_orig, score, diameter / float(mic.apix))


def _known_fields(values: dict) -> dict:
    """The entries of a stored patch config that this version's PatchConfig knows."""
    known = set(PatchConfig.__dataclass_fields__)
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in known}
