"""Picking with the fully convolutional network: one pass per micrograph, every candidate scored.

1. The micrograph is brought to the model's working scale (:func:`cryopick.preprocess.preprocess`
   with the model's :class:`~cryopick.preprocess.PreprocessConfig`: Fourier cropping, a
   high-pass, robust normalisation) and clipped (:func:`cryopick.fcn_data.network_input`).
2. The network turns the whole image into a probability map in one pass, tile by tile
   under a memory cap with exactly the untiled result (:func:`cryopick.tiling.predict_tiled`).
   With test-time augmentation (``tta``), the logits of the 8 rotations and mirror images
   of the micrograph are averaged (8 times the cost).
3. Every local maximum at least ``min_distance_diameters`` particle diameters from a
   stronger one is a candidate, with its probability as score (as crYOLO's CBOX keeps
   every candidate). The threshold is applied on output, so a later choice needs no new
   pass over the micrographs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from cryopick.detect import find_peaks
from cryopick.errors import CryopickError
from cryopick.fcn_data import network_input
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import empty_picks, make_picks
from cryopick.models.checkpoint import LoadedModel
from cryopick.preprocess import PreprocessConfig, preprocess
from cryopick.tiling import predict_tiled


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
    """

    threshold: float | None = None
    min_distance_diameters: float | None = None
    tta: bool = False
    memory_cap_bytes: int | None = None


def probability_map(model: torch.nn.Module, image: np.ndarray, *, tta: bool = False,
                    device: str | torch.device = "cpu", memory_cap_bytes: int | None = None) -> np.ndarray:
    """The network's particle probability for every pixel of a working-scale image.

    With ``tta`` the logits of the image's 8 rotations and mirror images (each mapped
    back) are averaged before the sigmoid.
    """
    source = network_input(image)
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
    return expit(logits).astype(np.float32, copy=False)


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
    if loaded.kind != "fcn":
        raise CryopickError(f"model is a {loaded.kind!r} patch classifier, not a fully convolutional picker",
                            fix="pick with it by sliding window (cryopick pick --model uses the right one)")
    diameter_A = loaded.diameter_A if diameter_A is None else float(diameter_A)
    pre = preprocess(mic, diameter_A, PreprocessConfig(**loaded.preprocess))
    prob = probability_map(loaded.model, pre.image, tta=config.tta, device=device,
                           memory_cap_bytes=config.memory_cap_bytes)
    spacing = loaded.min_distance_diameters if config.min_distance_diameters is None else config.min_distance_diameters
    threshold = loaded.threshold if config.threshold is None else config.threshold
    x, y, score = find_peaks(prob, max(1.0, spacing * pre.diameter_px), threshold=threshold if threshold > 0 else None)
    if x.size == 0:
        return empty_picks()
    x_orig, y_orig = pre.to_original(x, y)
    return make_picks(mic.name, x_orig, y_orig, score, diameter_A / float(mic.apix))
