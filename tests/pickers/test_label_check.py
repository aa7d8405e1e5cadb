"""The check that labels sit on particles: y-flipped and misplaced labels are told, right ones are not."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.pickers.label_check import LabelImage, label_structure, label_warning

NY, NX, D = 300, 420, 16.0  # not square: a flip is not a transpose


def _image(seed: int, n: int = 40) -> LabelImage:
    """Noise at per-pixel SNR ~0.1 with ``n`` faint dark discs; the labels are their centres."""
    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(D, NX - D, n), rng.uniform(D, NY - D, n)])
    yy, xx = np.mgrid[0:NY, 0:NX]
    image = rng.normal(size=(NY, NX))
    for x, y in xy:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= (D / 2) ** 2] -= 0.3
    return LabelImage(image, xy)


def _flipped(item: LabelImage) -> LabelImage:
    return LabelImage(item.image, np.column_stack([item.labels_xy[:, 0], NY - 1 - item.labels_xy[:, 1]]))


def test_labels_on_particles_stand_out_and_pass() -> None:
    images = [_image(0), _image(1)]
    assert label_structure(images, D) > 10
    assert label_warning(images, D) is None
    assert label_structure(images, D) == label_structure(images, D)  # seeded: the same answer every time


def test_flipped_labels_are_told_to_flip() -> None:
    images = [_flipped(_image(0)), _flipped(_image(1))]
    line = label_warning(images, D)
    assert line is not None and line.startswith("warning: the labels look y-flipped") and "fix: pass --flip-y" in line


def test_labels_on_nothing_look_like_background() -> None:
    rng = np.random.default_rng(5)
    images = [LabelImage(item.image, np.column_stack([rng.uniform(D, NX - D, 40), rng.uniform(D, NY - D, 40)]))
              for item in (_image(0), _image(1))]
    line = label_warning(images, D)
    assert line is not None and "look like background" in line and "fix:" in line


@pytest.mark.parametrize("n", [0, 5])
def test_too_few_labels_say_nothing(n: int) -> None:
    item = _image(0, n=max(n, 1))
    assert label_warning([LabelImage(item.image, item.labels_xy[:n])], D) is None
