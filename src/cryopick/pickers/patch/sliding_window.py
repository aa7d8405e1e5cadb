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
from cryopick.models.checkpoint import DEFAULT_STRIDE_FRACTION, LoadedModel
from cryopick.pickers.base import Candidates, Picker, PickPlan, PickRequest, Prepared
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
    patch_px = int(loaded.settings.get("patch_config", {}).get("patch_px", 64))
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


@dataclass
class _WindowScores:
    """Every window's probability on the window grid, and the grid's centres in working pixels."""

    scores: np.ndarray
    centres_x: np.ndarray
    centres_y: np.ndarray


class WindowPicker(Picker):
    """A patch classifier by sliding window behind the :class:`~cryopick.pickers.base.Picker` interface."""

    config_type = SlidingWindowConfig

    @classmethod
    def plan(cls, request: PickRequest, loaded: LoadedModel | None) -> PickPlan:
        """Every local maximum scored; the threshold (default the model's) cut afterwards.

        Trained on balanced classes, a patch classifier's probabilities overstate the
        particles' share: they are not read as calibrated.
        """
        used = loaded.threshold if request.threshold is None else request.threshold
        return PickPlan(SlidingWindowConfig(threshold=0.0), used, calibrated=False)

    def prepare(self, mic: Micrograph, diameter_A: float | None = None) -> Prepared:
        """The micrograph at the patch scale: the particle fills the box as in training."""
        self._stride_fraction()  # a bad stride is told before any work
        diameter_A = self.picking_diameter_A(diameter_A)
        patch_config = PatchConfig(**_known_fields(self.loaded.settings.get("patch_config", {})))
        return Prepared(mic.name, float(mic.apix), diameter_A, prepare_image(mic, diameter_A, patch_config))

    def _stride_fraction(self) -> float:
        """The window step as a fraction of the box: the option's, else the model's."""
        stride_fraction = self.options.stride_fraction
        if stride_fraction is None:
            stride_fraction = float(self.loaded.settings.get("stride_fraction", DEFAULT_STRIDE_FRACTION))
        if not 0.0 < stride_fraction <= 1.0:
            raise CryopickError(f"stride fraction must be in (0, 1], got {stride_fraction}", fix="use e.g. 0.2 (box/5)")
        return stride_fraction

    def score(self, prepared: Prepared) -> _WindowScores:
        patch_px = int(self.loaded.settings.get("patch_config", {}).get("patch_px", 64))
        return _WindowScores(*window_scores(prepared.work.image, self.loaded, self._stride_fraction() * patch_px,
                                            torch.device(self.device), self.options.batch_size))

    def candidates(self, prepared: Prepared, scored: _WindowScores) -> Candidates:
        """Windows "greater than their surroundings": no other kept window within one grid step."""
        if scored.scores.size == 0:
            return Candidates(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.float32))
        threshold = self.loaded.threshold if self.options.threshold is None else self.options.threshold
        gx, gy, score = find_peaks(scored.scores, min_distance_px=1.5, threshold=threshold, subpixel=False)
        return Candidates(scored.centres_x[np.rint(gx).astype(int)], scored.centres_y[np.rint(gy).astype(int)], score)


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
    return WindowPicker(config, loaded, device).pick(mic, diameter_A)


def _known_fields(values: dict) -> dict:
    """The entries of a stored patch config that this version's PatchConfig knows."""
    known = set(PatchConfig.__dataclass_fields__)
    return {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in known}
