"""Picking with the fully convolutional network: one pass per micrograph, every candidate scored.

1. The micrograph is brought to the model's working scale (:func:`cryopick.preprocess.preprocess`
   with the model's :class:`~cryopick.preprocess.PreprocessConfig`: Fourier cropping, a
   high-pass, robust normalisation) and clipped (:func:`cryopick.pickers.fcn.data.network_input`).
2. The network turns the whole image into a probability map in one pass, tile by tile
   under a memory cap with exactly the untiled result (:func:`cryopick.pickers.fcn.tiling.predict_tiled`).
   With test-time augmentation (``tta``), the logits of the 8 rotations and mirror images
   of the micrograph are averaged (8 times the cost).
3. Every local maximum at least ``min_distance_diameters`` particle diameters from a
   stronger one is a candidate, with its probability as score (as crYOLO's CBOX keeps
   every candidate). The threshold is applied on output, so a later choice needs no new
   pass over the micrographs.
4. Candidates inside high-contrast regions (crystalline ice, carbon film, large dark
   blobs; :func:`cryopick.postprocess.junk_regions.junk_region_mask_for`) are dropped.
5. On request, an aggregate guard (:func:`cryopick.postprocess.aggregates.aggregate_guard`): picks in
   clumps of overlapping particle-like maxima, or dark on many sides at overlap distance.
6. A conventional guard beside the network (:func:`contrast_guard`): candidates far
   darker or far more textured than the accepted ones (dark dots of ice or gold, carbon,
   ice edges) are dropped. A network trained positive-unlabeled sees too few of these
   rare objects to learn that they are not particles, and ranks the darkest of them
   highest.

The image is mirrored past its border before the network sees it: the zeros of "same"
padding are nothing the network met in training, and it put false picks along the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from cryopick.postprocess.aggregates import AggregateGuardConfig, aggregate_guard
from cryopick.detect import find_peaks
from cryopick.errors import CryopickError
from cryopick.pickers.fcn.data import network_input
from cryopick.io.micrographs import Micrograph
from cryopick.postprocess.junk_regions import junk_region_mask_for, picks_outside
from cryopick.models.checkpoint import LoadedModel
from cryopick.pickers.base import Candidates, Picker, PickPlan, PickRequest, Prepared
from cryopick.postprocess.borders import border_bands, outside_bands
from cryopick.postprocess.contrast_guard import contrast_guard
from cryopick.preprocess import PreprocessConfig, preprocess
from cryopick.pickers.fcn.tiling import predict_tiled


@dataclass(frozen=True)
class FCNPickConfig:
    """How the fully convolutional picker picks.

    Attributes
    ----------
    threshold
        Keep candidates scoring at least this probability; None: the model's own
        threshold; 0 keeps every candidate.
    min_distance_diameters
        Closest two picks may be, in particle diameters; None: the model's (0.5).
    tta
        Average the network over the 8 rotations and mirror images (8x slower).
    memory_cap_bytes
        Activation memory allowed per tile (None: 512 MiB).
    contrast_guard_spreads
        Drop candidates far darker or far more textured than the particles: more than this
        many robust spreads beyond the median of the candidates above the threshold, in
        the mean over half a diameter (dark dots of ice or gold, thick ice) or in the
        standard deviation over one diameter (dots, carbon, ice edges: high-contrast
        objects); see :func:`contrast_guard`. None turns the guard off. Brighter or
        flatter candidates are kept. Needs at least :data:`GUARD_MIN_CANDIDATES`
        candidates above the threshold.
    junk_regions
        Drop candidates inside high-contrast regions: ice contamination, carbon film,
        large dark blobs (:func:`cryopick.postprocess.junk_regions.junk_region_mask_for`, on the
        working image's own Fourier crop).
    border_bands
        Drop candidates in artefact bands along the edges (blank, padded or striped
        margins that processing leaves; :func:`cryopick.postprocess.borders.border_bands`)
        and within half a diameter of them.
    aggregate_guard
        Drop candidates whose neighbourhood says aggregate (clumps of overlapping
        particles; :func:`cryopick.postprocess.aggregates.aggregate_guard`); None (default) keeps
        them: it removes a part of the aggregate picks at ~1% of the particles
        (docs/benchmarks.md).
    """

    threshold: float | None = None
    min_distance_diameters: float | None = None
    tta: bool = False
    memory_cap_bytes: int | None = None
    contrast_guard_spreads: float | None = 6.0
    junk_regions: bool = True
    aggregate_guard: AggregateGuardConfig | None = None
    border_bands: bool = True



def probability_map(model: torch.nn.Module, image: np.ndarray, *, tta: bool = False,
                    device: str | torch.device = "cpu", memory_cap_bytes: int | None = None) -> np.ndarray:
    """The network's particle probability for every pixel of a working-scale image.

    With ``tta`` the logits of the image's 8 rotations and mirror images (each mapped
    back) are averaged before the sigmoid.
    """
    source = network_input(image)
    margin = int(getattr(model, "margin_px", 0))
    pad = min(margin, source.shape[0] - 1, source.shape[1] - 1)
    if pad > 0:  # mirror the image past its border: a zero border is nothing the network saw in training
        source = np.pad(source, pad, mode="reflect")
    if not tta:
        logits = predict_tiled(model, source, memory_cap_bytes=memory_cap_bytes, device=device)
    else:
        logits = np.zeros(source.shape, dtype=np.float32)
        for mirror in (False, True):
            view = source[:, ::-1] if mirror else source
            for k in range(4):
                out = predict_tiled(model, np.ascontiguousarray(np.rot90(view, k)),
                                    memory_cap_bytes=memory_cap_bytes, device=device)
                out = np.rot90(out, -k)
                logits += out[:, ::-1] if mirror else out
        logits /= 8.0
    if pad > 0:
        logits = logits[pad:-pad, pad:-pad]
    return expit(logits).astype(np.float32, copy=False)


class FCNPicker(Picker):
    """The fully convolutional picker behind the :class:`~cryopick.pickers.base.Picker` interface."""

    config_type = FCNPickConfig

    @classmethod
    def plan(cls, request: PickRequest, loaded: LoadedModel | None) -> PickPlan:
        """Every candidate scored, the threshold cut afterwards.

        The contrast guard judges by the candidates above the model's threshold, or
        above the requested one when that is higher; so every candidate is scored only
        at a threshold up to the model's (the default), where cutting afterwards gives
        the same picks. Above it the picker cuts itself.
        """
        used = loaded.threshold if request.threshold is None else request.threshold
        complete = request.all_peaks or used <= loaded.threshold
        config = FCNPickConfig(threshold=0.0 if complete else used, tta=request.tta,
                               junk_regions=request.junk_regions, border_bands=request.border_bands,
                               aggregate_guard=AggregateGuardConfig() if request.aggregate_guard else None)
        note = None if complete else (f"--threshold {used:g} is above the model's ({loaded.threshold:g}): "
                                      "only the picks are scored")
        return PickPlan(config, used, calibrated=True, complete=complete, note=note)

    def prepare(self, mic: Micrograph, diameter_A: float | None = None) -> Prepared:
        """The micrograph at the model's working scale (the original pixels are not needed after it)."""
        loaded = self.loaded
        if loaded.kind != "fcn":
            raise CryopickError(f"model is a {loaded.kind!r} patch classifier, not a fully convolutional picker",
                                fix="pick with it by sliding window (cryopick pick --model uses the right one)")
        diameter_A = self.picking_diameter_A(diameter_A)
        work = preprocess(mic, diameter_A, PreprocessConfig(**loaded.settings.get("preprocess", {})))
        return Prepared(mic.name, float(mic.apix), diameter_A, work)

    def score(self, prepared: Prepared) -> np.ndarray:
        return probability_map(self.loaded.model, prepared.work.image, tta=self.options.tta, device=self.device,
                               memory_cap_bytes=self.options.memory_cap_bytes)

    def _spacing_and_threshold(self) -> tuple[float, float]:
        config, loaded = self.options, self.loaded
        spacing = (float(loaded.settings.get("min_distance_diameters", 0.5)) if config.min_distance_diameters is None
                   else config.min_distance_diameters)
        return spacing, loaded.threshold if config.threshold is None else config.threshold

    def candidates(self, prepared: Prepared, scored: np.ndarray) -> Candidates:
        spacing, threshold = self._spacing_and_threshold()
        return Candidates(*find_peaks(scored, max(1.0, spacing * prepared.work.diameter_px),
                                      threshold=threshold if threshold > 0 else None))

    def filter(self, prepared: Prepared, scored: np.ndarray, candidates: Candidates) -> Candidates:
        """Edge artefact bands, junk regions, the contrast guard and (on request) the aggregate guard, in that order."""
        config, pre, threshold = self.options, prepared.work, self.loaded.threshold
        found = candidates
        if config.border_bands and found.size:
            bands = border_bands(pre.image, pre.diameter_px)
            if bands.any:
                found = found.keep(outside_bands(found.x, found.y, pre.image.shape, bands, 0.5 * pre.diameter_px))
        regions = junk_region_mask_for(pre) if config.junk_regions and found.size else None
        if regions is not None:
            found = found.keep(picks_outside(np.c_[found.x, found.y], regions))
        if config.contrast_guard_spreads is not None and found.size:
            found = found.keep(contrast_guard(pre.image, found.x, found.y, found.score >= threshold,
                                              pre.diameter_px, config.contrast_guard_spreads))
        if config.aggregate_guard is not None and found.size:
            found = found.keep(aggregate_guard(pre.image, scored, found.x, found.y, found.score >= threshold,
                                               pre.diameter_px, config.aggregate_guard, threshold=threshold,
                                               exclude=regions))
        return found


def pick_fcn(mic: Micrograph, loaded: LoadedModel, diameter_A: float | None = None,
             config: FCNPickConfig = FCNPickConfig(), device: str | torch.device = "cpu") -> pd.DataFrame:
    """Pick one micrograph with a fully convolutional model; a Picks table in original pixels.

    Parameters
    ----------
    mic
        The micrograph.
    loaded
        A model of kind ``"fcn"`` (:func:`cryopick.models.checkpoint.load_model`), on ``device``.
    diameter_A
        Particle diameter in Å; None: the one the model was trained at.
    config
        Threshold, spacing, test-time augmentation, memory cap.
    device
        Where the network runs.

    Returns
    -------
    pandas.DataFrame
        ``micrograph, x, y, score, diameter_px``, strongest first; ``score`` is the
        probability at the candidate.
    """
    return FCNPicker(config, loaded, device).pick(mic, diameter_A)
