"""Tests for cryopick.pickers.fcn.images: the one loop from labelled micrographs on disk to the FCN's label maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.io.coords import read_coords
from cryopick.io.masks import read_mask
from cryopick.io.micrographs import read_micrograph, write_mrc
from cryopick.pickers.fcn import general, images, trainer
from cryopick.pickers.fcn.config import FCNTrainConfig
from cryopick.pickers.fcn.data import labelled_image
from cryopick.pickers.fcn.images import training_images


@pytest.fixture()
def labelled(tmp_path: Path) -> tuple[list[Path], Path, Path]:
    """Two noise micrographs with labels, and a background mask for the second only."""
    rng = np.random.default_rng(0)
    mics, masks = tmp_path / "mics", tmp_path / "masks"
    mics.mkdir()
    masks.mkdir()
    paths = []
    for name in ("a", "b"):
        paths.append(mics / f"{name}.mrc")
        write_mrc(paths[-1], rng.normal(size=(160, 192)).astype(np.float32), 2.0)
    mask = np.zeros((160, 192), np.float32)
    mask[:40, :50] = 1.0
    write_mrc(masks / "b.mrc", mask, 2.0)
    labels = tmp_path / "labels.csv"
    labels.write_text("micrograph,x,y,score\na,40,40,0.9\na,100,120,0.2\nb,150,100,0.8\nb,20,20,0.9\n")
    return paths, labels, masks


def test_the_maps_are_those_of_each_micrograph_with_its_masks(labelled) -> None:
    paths, labels_file, masks = labelled
    labels = read_coords(labels_file)
    config = FCNTrainConfig(validation_fraction=0.2, positive_radius_diameters=0.2)
    seen = []

    def track(items, description):
        seen.append((list(items), description))
        return items

    got = training_images(paths, labels, 40.0, config, background_masks=masks, min_label_score=0.5, track=track)
    assert seen == [(paths, "preparing")]
    assert got.masks_found == {"uncertain": 0, "background": 1}
    for path, image in zip(paths, got.images):
        mic = read_micrograph(path)
        background = read_mask(masks / "b.mrc", mic.shape) if mic.name == "b" else None
        expected = labelled_image(mic, labels.loc[labels["micrograph"] == mic.name], 40.0,
                                  positive_radius_diameters=0.2, validation_fraction=0.2, background=background,
                                  min_label_score=0.5)
        assert image.name == mic.name and image.validation_start_row == expected.validation_start_row
        for field in ("image", "labels_xy", "positive", "weight", "background"):
            assert np.array_equal(getattr(image, field), getattr(expected, field)), field
    assert len(got.images[0].labels_xy) == 1  # the 0.2 label is ignored
    assert len(got.images[1].labels_xy) == 1  # the label on the masked corner contradicts it


def test_without_masks_or_a_pixel_size_override(labelled) -> None:
    paths, labels_file, _ = labelled
    got = training_images(paths[:1], read_coords(labels_file), 40.0, apix=4.0)
    assert got.masks_found == {"uncertain": 0, "background": 0}
    assert got.images[0].preprocessed.diameter_px == pytest.approx(40.0 / 4.0)  # 4 Å/px, not the header's 2


def test_train_and_the_general_recipe_share_the_loop() -> None:
    assert general.training_images is images.training_images
    assert trainer.training_images is images.training_images
