"""The fcn branch of `cryopick train`: label maps, positive-unlabeled training, the model file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cryopick.cli._common import console, progress_over
from cryopick.pickers.fcn.data import labelled_image
from cryopick.pickers.fcn.train import FCNTrainConfig, save_fcn_model, train_fcn
from cryopick.io.masks import find_mask, read_mask
from cryopick.io.micrographs import read_micrograph
from cryopick.models.fcn import ParticleFCN


@dataclass(frozen=True)
class InitialModel:
    """What `--init` starts from: the network, its threshold, and what the model file records (``source``)."""

    network: ParticleFCN
    threshold: float
    source: str


def initial_network(init: str) -> InitialModel:
    """The model to fine-tune: the bundled general model ("general") or an fcn model file."""
    from cryopick.errors import CryopickError
    from cryopick.pickers.fcn.general import general_model_path
    from cryopick.models.checkpoint import load_model

    path = general_model_path() if init == "general" else Path(init)
    loaded = load_model(path)
    if loaded.kind != "fcn" or not isinstance(loaded.model, ParticleFCN):
        raise CryopickError(f"--init needs a fully convolutional model, this is a {loaded.kind!r} one", path=path,
                            fix="give --init general or a model trained with --model fcn")
    console.print(f"starting from {'the bundled general model' if init == 'general' else path}")
    return InitialModel(loaded.model, float(loaded.threshold), "general" if init == "general" else str(init))


def train_fcn_command(paths: list[Path], labels: pd.DataFrame, diameter_A: float, output: Path, *,
                      apix: float | None, max_epochs: int | None, validation_fraction: float | None,
                      uncertain_masks: Path | None, background_masks: Path | None, min_label_score: float | None,
                      prior: float | None, rotate: bool, seed: int, device: str,
                      initial: InitialModel | None = None) -> None:
    """Train the fully convolutional picker and write its model file (see `cryopick train --help`).

    ``initial``: the model to start from (:func:`initial_network` of `--init`), with its threshold.
    """
    config = FCNTrainConfig(
        **({} if max_epochs is None else {"max_epochs": max_epochs}),
        **({} if validation_fraction is None else {"validation_fraction": validation_fraction}),
        prior=prior, rotate=rotate, seed=seed, device=device,
        **({} if initial is None else {"default_threshold": initial.threshold}),
    )
    images = []
    n_masks = {"uncertain": 0, "background": 0}
    for path in progress_over(paths, "preparing"):
        mic = read_micrograph(path, apix)
        masks = {}
        for kind, folder in (("uncertain", uncertain_masks), ("background", background_masks)):
            found = find_mask(folder, mic.name) if folder is not None else None
            if found is not None:
                masks[kind] = read_mask(found, mic.shape)
                n_masks[kind] += 1
        images.append(labelled_image(
            mic, labels.loc[labels["micrograph"] == mic.name], diameter_A,
            positive_radius_diameters=config.positive_radius_diameters,
            validation_fraction=config.validation_fraction, min_label_score=min_label_score, **masks,
        ))
    for kind, folder in (("uncertain", uncertain_masks), ("background", background_masks)):
        if folder is not None:
            console.print(f"{kind} masks: {n_masks[kind]} of {len(paths)} micrograph(s) have one in {folder}")
    result = train_fcn(images, config, progress=console.print, initial=None if initial is None else initial.network)
    if initial is not None:
        result.notes["init"] = initial.source
    save_fcn_model(output, result, diameter_A)
    console.print(
        f"trained fcn in {result.seconds:.0f} s: about {result.n_particles_estimate:.0f} particles in the training "
        f"micrographs, {result.n_labels_dropped} of {result.n_labels} labels dropped as wrong -> {output}"
    )
