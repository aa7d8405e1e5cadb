"""Tests for cryopick.extract.boxes' box cutting: one rule for extraction's boxes and the patch classifiers' crops."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.extract.boxes import box_windows, crosses_edge, cut_box, cut_boxes
from cryopick.pickers.patch.patches import extract_patches


def _reference(image: np.ndarray, cx: int, cy: int, size: int) -> np.ndarray:
    """The box by numpy's own symmetric padding (pad wide enough for any reach)."""
    pad = 3 * size + max(image.shape)
    padded = np.pad(image, pad, mode="symmetric")
    x0, y0 = cx - size // 2 + pad, cy - size // 2 + pad
    return padded[y0 : y0 + size, x0 : x0 + size]


def test_a_box_inside_is_a_view_and_one_across_the_edge_is_mirrored() -> None:
    image = np.arange(48, dtype=np.float32).reshape(6, 8)
    box, crosses = cut_box(image, 4, 3, 4)
    assert not crosses and np.shares_memory(box, image)
    assert np.array_equal(box, image[1:5, 2:6])
    box, crosses = cut_box(image, 0, 0, 4)
    assert crosses and not np.shares_memory(box, image)
    assert np.array_equal(box[:2, :2], image[1::-1, 1::-1])  # ... b a | a b ...
    assert np.array_equal(box[2:, 2:], image[:2, :2])


@pytest.mark.parametrize("seed", range(3))
def test_boxes_match_numpy_symmetric_padding_even_far_past_the_edge(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        ny, nx = rng.integers(1, 12, 2)
        image = rng.random((ny, nx))
        size = int(rng.integers(1, 30))
        cx, cy = int(rng.integers(-size, nx + size)), int(rng.integers(-size, ny + size))
        box, crosses = cut_box(image, cx, cy, size)
        assert np.array_equal(box, _reference(image, cx, cy, size))
        assert crosses == bool(crosses_edge(np.array([cx]), np.array([cy]), size, image.shape)[0])


def test_many_boxes_are_the_single_boxes_stacked() -> None:
    rng = np.random.default_rng(4)
    image = rng.random((40, 50)).astype(np.float32)
    cx, cy = rng.integers(0, 50, 30), rng.integers(0, 40, 30)
    boxes = cut_boxes(image, cx, cy, 16)
    assert boxes.shape == (30, 16, 16) and boxes.dtype == image.dtype
    for i in range(30):
        assert np.array_equal(boxes[i], cut_box(image, int(cx[i]), int(cy[i]), 16)[0])
    assert cut_boxes(image, np.zeros(0, int), np.zeros(0, int), 64).shape == (0, 64, 64)


def test_mirrored_windows_cover_only_the_boxes() -> None:
    image = np.zeros((500, 600), np.float32)
    windows, x0, y0 = box_windows(image, np.array([0]), np.array([0]), 8)
    assert windows.shape[:2] == (1, 1) and (x0[0], y0[0]) == (0, 0)  # one box's worth, not the micrograph


def test_patch_crops_are_cut_by_the_same_function() -> None:
    rng = np.random.default_rng(5)
    image = rng.random((30, 20))
    centres = np.c_[rng.uniform(0, 19, 25), rng.uniform(0, 29, 25)]
    cx, cy = np.floor(centres[:, 0] + 0.5).astype(int), np.floor(centres[:, 1] + 0.5).astype(int)
    crops = extract_patches(image, centres, 12)
    assert crops.dtype == np.float32
    assert np.array_equal(crops, cut_boxes(image, cx, cy, 12).astype(np.float32))
