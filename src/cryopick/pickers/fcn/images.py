"""The FCN's training images: micrographs read from disk, with their labels and masks, as label maps.

:func:`training_images` is the one loop both ways of training the FCN use: `cryopick
train` (:mod:`cryopick.pickers.fcn.trainer`) and the general model's recipe
(:func:`cryopick.pickers.fcn.general.train_general_model`). Masks are found by the
micrograph's name in their folders (:func:`cryopick.io.masks.find_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cryopick.io.masks import find_mask, read_mask
from cryopick.io.micrographs import read_micrograph
from cryopick.pickers.fcn.config import FCNTrainConfig
from cryopick.pickers.fcn.data import DenseImage, labelled_image
from cryopick.pickers.train_job import Track

MASK_KINDS: tuple[str, ...] = ("uncertain", "background")


@dataclass
class TrainingImages:
    """The label maps of the training micrographs, and how many of them had a mask of each kind."""

    images: list[DenseImage]
    masks_found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MASK_KINDS, 0))


def training_images(paths: Sequence[Path], labels: pd.DataFrame, diameter_A: float,
                    config: FCNTrainConfig = FCNTrainConfig(), *, apix: float | None = None,
                    uncertain_masks: Path | None = None, background_masks: Path | None = None,
                    min_label_score: float | None = None, track: Track | None = None) -> TrainingImages:
    """Read each micrograph, find its masks and build its label maps.

    The maps are :func:`~cryopick.pickers.fcn.data.labelled_image`'s, one micrograph in
    memory at a time.

    Parameters
    ----------
    paths
        The micrographs, in order.
    labels
        A Picks table (original pixels); each micrograph gets the rows with its name.
    diameter_A
        Particle diameter in Å.
    config
        The training configuration: its positive radius and validation fraction shape the maps.
    apix
        Pixel size in Å/px overriding the headers; None reads them.
    uncertain_masks, background_masks
        Folders of masks named like the micrographs (None: no masks of that kind); a
        micrograph without a mask in a folder has none of that kind.
    min_label_score
        Labels scoring below this are ignored with their surroundings.
    track
        Wraps the loop over ``paths`` (a progress bar); None: a plain loop.

    Returns
    -------
    TrainingImages
        One :class:`~cryopick.pickers.fcn.data.DenseImage` per path, and the masks found.
    """
    out = TrainingImages([])
    folders = dict(zip(MASK_KINDS, (uncertain_masks, background_masks)))
    for path in (paths if track is None else track(paths, "preparing")):
        mic = read_micrograph(path, apix)
        masks = {}
        for kind, folder in folders.items():
            found = find_mask(folder, mic.name) if folder is not None else None
            if found is not None:
                masks[kind] = read_mask(found, mic.shape)
                out.masks_found[kind] += 1
        out.images.append(labelled_image(
            mic, labels.loc[labels["micrograph"] == mic.name], diameter_A,
            positive_radius_diameters=config.positive_radius_diameters,
            validation_fraction=config.validation_fraction, min_label_score=min_label_score, **masks,
        ))
    return out
