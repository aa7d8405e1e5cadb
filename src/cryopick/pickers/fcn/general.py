"""The general model: a fully convolutional picker that works before anyone labels anything.

It is trained on simulated micrographs only, spanning structures of different size and
shape, pixel sizes, defocus, noise, crowding, ice and junk, with every particle labelled
and every piece of junk given as known background (:mod:`cryopick.simulate` writes both).
Because the picker works where the particle is 16 px wide (:data:`cryopick.pickers.fcn.data.FCN_PREPROCESS`),
one network serves every particle size: `cryopick pick --diameter D` with no model uses it.

The model ships inside the package (:func:`general_model_path`, a few tens of kB), so
picking with it needs no network. :func:`train_general_model` remakes it from scratch
with the :class:`GeneralRecipe` (``cryopick train-general``; the model card in
``docs/general_model.md`` gives the command and what it was trained on).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.pickers.fcn.count import prior_from_count
from cryopick.pickers.fcn.data import DenseImage
from cryopick.pickers.fcn.images import training_images
from cryopick.pickers.fcn.train import FCNTrainConfig, FCNTrainResult, save_fcn_model, train_fcn
from cryopick.simulate import SimulationConfig, simulate_dataset
from cryopick.simulate.structures import load_structure

GENERAL_MODEL_FILE = "general.cryopick"
"""The bundled model's file name inside ``cryopick/models/pretrained``."""


@dataclass(frozen=True)
class Condition:
    """One kind of simulated data set in the recipe: imaging and specimen conditions."""

    apix_per_diameter: float  # pixel size as a fraction of the particle diameter (1/40: 40 px across)
    junk: str = "some"
    crowding: str = "normal"
    snr: float | None = None  # None: the noise follows from the dose (40 e/Å^2)
    defocus_range_um: tuple[float, float] = (0.8, 2.5)


DEFAULT_CONDITIONS: tuple[Condition, ...] = (
    Condition(1 / 40, junk="lots", crowding="normal"),
    Condition(1 / 30, junk="some", crowding="crowded"),
    Condition(1 / 50, junk="lots", crowding="sparse", snr=0.05, defocus_range_um=(1.5, 3.5)),
    Condition(1 / 25, junk="some", crowding="normal", snr=0.2, defocus_range_um=(0.5, 1.5)),
)


@dataclass(frozen=True)
class GeneralRecipe:
    """How the general model is made: which structures, which conditions, how it is trained.

    Attributes
    ----------
    structures
        Builtin structure names (or structure files) to train on. The benchmark structures
        ``globular``, ``ring7`` and ``dumbbell`` are left out so that they measure it.
    conditions
        Simulated data sets made for every structure.
    micrographs_per_condition
        Micrographs of each data set.
    micrograph_diameters
        Side of a micrograph in particle diameters (at least 768 px).
    train
        The training configuration (every particle labelled: one round, no label cleaning).
    seed
        Seed of the simulations.
    """

    structures: tuple[str, ...] = ("small", "8zpm", "6qt9", "ring5", "rod")
    conditions: tuple[Condition, ...] = DEFAULT_CONDITIONS
    micrographs_per_condition: int = 2
    micrograph_diameters: float = 24.0
    train: FCNTrainConfig = field(default_factory=lambda: FCNTrainConfig(
        rounds=1, clean_fraction=0.0, max_steps_per_epoch=80, max_epochs=40, min_epochs=10))
    seed: int = 2026

    def __post_init__(self) -> None:
        if not self.structures or not self.conditions or self.micrographs_per_condition < 1:
            raise CryopickError("the general recipe needs structures, conditions and micrographs",
                                fix="use the defaults")


Progress = Callable[[str], None]


def general_model_path() -> Path:
    """The bundled general model file (inside the installed package; no network needed)."""
    path = Path(str(resources.files("cryopick.models").joinpath("pretrained", GENERAL_MODEL_FILE)))
    if not path.is_file():
        raise CryopickError("the bundled general model is missing from this installation", path=path,
                            fix="reinstall cryopick, or remake it with `cryopick train-general`")
    return path


def simulate_recipe(recipe: GeneralRecipe, workdir: Path, progress: Progress | None = None) -> list[Path]:
    """Simulate every (structure, condition) data set of the recipe under ``workdir``; their folders."""
    say = progress or (lambda line: None)
    folders = []
    for i, structure in enumerate(recipe.structures):
        diameter_A = load_structure(structure).diameter_A
        for j, condition in enumerate(recipe.conditions):
            apix = diameter_A * condition.apix_per_diameter
            size = max(768, int(math.ceil(recipe.micrograph_diameters * diameter_A / apix / 32.0)) * 32)
            config = SimulationConfig.with_presets(
                crowding=condition.crowding, junk=condition.junk, n_micrographs=recipe.micrographs_per_condition,
                shape=(size, size), apix=round(apix, 3), structures=(structure,), snr=condition.snr,
                defocus_range_um=condition.defocus_range_um, label_fraction=1.0, wrong_label_fraction=0.0,
                seed=recipe.seed + 100 * i + j)
            folder = workdir / f"{Path(structure).stem}_{j}"
            summary = simulate_dataset(folder, config)
            say(f"simulated {folder.name}: {summary.n_micrographs} micrographs of {size} px at {apix:.2f} Å/px, "
                f"{summary.n_particles} particles")
            folders.append(folder)
    return folders


def train_general_model(recipe: GeneralRecipe, workdir: Path, out: Path,
                        progress: Progress | None = None) -> FCNTrainResult:
    """Simulate the recipe's data in ``workdir``, train the general model and write it to ``out``.

    Every particle is a label and the junk masks are known background, so the prior is
    known: the particles' share of the training area.
    """
    say = progress or (lambda line: None)
    start = time.perf_counter()
    images: list[DenseImage] = []
    for folder in simulate_recipe(recipe, Path(workdir), say):
        truth = read_coords(folder / "truth.star", options=CoordOptions(allow_empty=True))
        diameter_A = load_structure(_structure_of(folder, recipe)).diameter_A
        masks = folder / "junk_masks"
        images += training_images(sorted((folder / "micrographs").glob("*.mrc")), truth, diameter_A, recipe.train,
                                  background_masks=masks if masks.is_dir() else None).images
    n_particles = sum(len(image.labels_xy) for image in images)
    area_px = sum(float(image.weight.sum()) for image in images)
    radius_px = recipe.train.positive_radius_diameters * float(images[0].preprocessed.diameter_px)
    prior = prior_from_count(n_particles, math.pi * radius_px * radius_px, area_px)
    say(f"{len(images)} micrographs, {n_particles} particles: prior {prior:.4g}")
    config = replace(recipe.train, prior=prior)
    result = train_fcn(images, config, progress=say)
    result.notes.update({"general": True, "recipe": _recipe_dict(recipe),
                         "seconds_with_simulation": round(time.perf_counter() - start, 1)})
    save_fcn_model(out, result, float(np.median([load_structure(s).diameter_A for s in recipe.structures])))
    return result


def remake_general_model(out: Path, *, workdir: Path | None = None, seed: int = 2026, device: str = "auto",
                         progress: Progress | None = None) -> FCNTrainResult:
    """`cryopick train-general`: :func:`train_general_model` with the default recipe, its seed and device.

    Parameters
    ----------
    out
        The model file to write.
    workdir
        Where the simulated data stay; None: a temporary folder, removed afterwards.
    seed
        Seed of the simulations (the bundled model used 2026).
    device
        Where to train (``auto`` picks CUDA when present).
    progress
        Gets every line of the log.
    """
    recipe = GeneralRecipe(seed=seed)
    recipe = replace(recipe, train=replace(recipe.train, device=device))
    if workdir is not None:
        return train_general_model(recipe, workdir, out, progress)
    with tempfile.TemporaryDirectory() as tmp:
        return train_general_model(recipe, Path(tmp), out, progress)


def _structure_of(folder: Path, recipe: GeneralRecipe) -> str:
    stem = folder.name.rsplit("_", 1)[0]
    for structure in recipe.structures:
        if Path(structure).stem == stem:
            return structure
    raise CryopickError(f"no structure of the recipe matches {folder}", fix="use a fresh work folder")


def _recipe_dict(recipe: GeneralRecipe) -> dict:
    data = asdict(recipe)
    data["train"] = asdict(recipe.train)
    return data


def is_general(training: dict) -> bool:
    """Whether a model file's training record says it is a general model (picks any particle size)."""
    return bool(training.get("general", False))
