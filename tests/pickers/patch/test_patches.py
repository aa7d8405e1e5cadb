"""Tests for cryopick.pickers.patch.patches: patch scale, crops, settings (the sampling schemes: test_sampling.py)."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.pickers.patch.patches import (
    PATCH_PX,
    PatchConfig,
    extract_patches,
    prepare_image,
    to_unit_range,
)
from cryopick.pickers.patch.sampling import sample_patches
from tests.pickers.patch.conftest import disc_micrograph


# ----------------------------------------------------------------------------- prepare_image


@pytest.mark.parametrize(
    ("shape", "apix", "diameter_A"),
    [
        ((1000, 1200), 1.0, 150.0),  # 150 px particle: downsample by 3.2
        ((777, 901), 1.3, 100.0),  # odd, non-square, 77 px particle
        ((400, 300), 4.0, 120.0),  # 30 px particle: needs enlargement by 1.6
        ((256, 256), 5.0, 60.0),  # 12 px particle: enlargement by 4
    ],
)
def test_prepare_image_box_is_patch_px(shape, apix, diameter_A):
    mic = disc_micrograph(shape, apix, diameter_A, [])
    pre = prepare_image(mic, diameter_A)
    ny_w, nx_w = pre.image.shape
    box_px = 1.35 * pre.diameter_px
    assert abs(box_px - PATCH_PX) < PATCH_PX / min(ny_w, nx_w)
    # the scales map the working image exactly onto the original
    assert nx_w * pre.scale_x == pytest.approx(shape[1], abs=1e-9)
    assert ny_w * pre.scale_y == pytest.approx(shape[0], abs=1e-9)
    assert pre.diameter_px * 0.5 * (pre.scale_x + pre.scale_y) == pytest.approx(diameter_A / apix, rel=1e-12)
    assert (diameter_A / apix < 64 / 1.35) == (pre.scale_x < 1.0)  # enlarged exactly when needed
    assert pre.image.dtype == np.float32
    assert pre.image.min() >= 0.0 and pre.image.max() <= 1.0
    # robust normalisation then (v + 3) / 6: the median sits at 0.5, noise spreads 1/6 per sigma
    assert np.median(pre.image) == pytest.approx(0.5, abs=0.02)
    q16, q84 = np.percentile(pre.image, [15.87, 84.13])
    assert (q84 - q16) / 2 == pytest.approx(1 / 6, rel=0.1)


def test_to_unit_range_clips_at_three_sigma():
    out = to_unit_range(np.array([-10.0, -3.0, 0.0, 1.5, 3.0, 7.0]))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 0.75, 1.0, 1.0], atol=1e-7)
    assert out.dtype == np.float32


@pytest.mark.parametrize(("shape", "apix", "diameter_A"), [((600, 700), 1.0, 140.0), ((300, 350), 4.0, 100.0)])
def test_dark_disc_is_at_the_centre_of_its_crop(shape, apix, diameter_A):
    # fractional original-pixel centres; the first case is downsampled, the second enlarged
    centres = [(0.37 * shape[1] + 0.2, 0.41 * shape[0] + 0.7), (0.8 * shape[1] + 0.3, 0.7 * shape[0] + 0.6)]
    mic = disc_micrograph(shape, apix, diameter_A, centres)
    pre = prepare_image(mic, diameter_A)
    patches = sample_patches(pre, np.array(centres), PatchConfig(negatives_per_positive=0), np.random.default_rng(0))
    assert len(patches) == 8
    for crop in patches.patches[::4]:  # the unrotated crop of each particle
        centre = crop[28:36, 28:36].mean()
        corners = np.mean([crop[:6, :6].mean(), crop[:6, -6:].mean(), crop[-6:, :6].mean(), crop[-6:, -6:].mean()])
        assert centre < corners - 0.2
    np.testing.assert_allclose(patches.centres_xy[::4], centres, atol=0.5 * max(pre.scale_x, pre.scale_y) + 1e-9)

    # a disc far above the noise: its centroid lies where the scale says, to a fraction of a pixel
    strong = disc_micrograph(shape, apix, diameter_A, centres, contrast=50.0)
    pre = prepare_image(strong, diameter_A)
    patches = sample_patches(pre, np.array(centres), PatchConfig(negatives_per_positive=0), np.random.default_rng(0))
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for (x, y), crop in zip(centres, patches.patches[::4], strict=True):
        disc = (xx - x) ** 2 + (yy - y) ** 2 <= (diameter_A / apix / 2) ** 2
        # where the rasterised disc's centroid falls in the crop centred on the label's nearest pixel
        expected_x = xx[disc].mean() / pre.scale_x - (np.floor(x / pre.scale_x + 0.5) - 32)
        expected_y = yy[disc].mean() / pre.scale_y - (np.floor(y / pre.scale_y + 0.5) - 32)
        labels, _ = ndimage.label(crop <= 0.02)  # clipped at -3 robust std: the disc
        found = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
        assert abs(found.sum() - np.pi / 4 * (64 / 1.35) ** 2) < 0.1 * found.sum()  # 47.4 px wide
        cy, cx = ndimage.center_of_mass(found)
        assert abs(cx - expected_x) < 0.3 and abs(cy - expected_y) < 0.3, (cx, cy, expected_x, expected_y)


# ----------------------------------------------------------------------------- extract_patches


def ramp(ny=10, nx=12):
    yy, xx = np.mgrid[:ny, :nx]
    return (100 * yy + xx).astype(np.float32)


def test_extract_patches_exact_values_and_rounding():
    img = ramp()
    crops = extract_patches(img, np.array([[5, 4], [4.5, 3.5], [4.49, 3.51]]), 4)
    assert crops.shape == (3, 4, 4) and crops.dtype == np.float32
    np.testing.assert_array_equal(crops[0], img[2:6, 3:7])  # [c - 2, c + 2)
    np.testing.assert_array_equal(crops[1], img[2:6, 3:7])  # halves round up
    np.testing.assert_array_equal(crops[2], img[2:6, 2:6])  # x 4.49 -> 4, y 3.51 -> 4
    odd = extract_patches(img, np.array([[5.0, 4.0]]), 3)
    np.testing.assert_array_equal(odd[0], img[3:6, 4:7])


def test_extract_patches_reflects_at_the_edges():
    img = ramp()
    crops = extract_patches(img, np.array([[0, 0], [11, 9], [11, 0]]), 6)
    np.testing.assert_array_equal(crops[0], img[np.ix_([2, 1, 0, 0, 1, 2], [2, 1, 0, 0, 1, 2])])
    np.testing.assert_array_equal(crops[1], img[np.ix_([6, 7, 8, 9, 9, 8], [8, 9, 10, 11, 11, 10])])
    np.testing.assert_array_equal(crops[2], img[np.ix_([2, 1, 0, 0, 1, 2], [8, 9, 10, 11, 11, 10])])
    # a crop larger than the image keeps mirroring
    big = extract_patches(img[:3, :3], np.array([[1, 1]]), 8)
    np.testing.assert_array_equal(big[0, 3:6, 3:6], img[:3, :3])
    assert set(np.unique(big)) == set(np.unique(img[:3, :3]))


def test_extract_patches_rejects_outside_centres_and_handles_none():
    img = ramp()
    assert extract_patches(img, np.zeros((0, 2)), 4).shape == (0, 4, 4)
    with pytest.raises(ValueError, match="outside"):
        extract_patches(img, np.array([[12.0, 3.0]]), 4)
    with pytest.raises(ValueError, match="outside"):
        extract_patches(img, np.array([[3.0, -0.6]]), 4)


def test_extract_patches_many_with_mirrored_borders():
    img = np.random.default_rng(0).random((1300, 1300), dtype=np.float32)
    centres = np.random.default_rng(1).uniform(0, 1299, (5000, 2))  # some crops need the mirrored border
    crops = extract_patches(img, centres, PATCH_PX)  # its speed: benchmarks/bench_speed.py
    assert crops.shape == (5000, 64, 64) and crops.dtype == np.float32


# ----------------------------------------------------------------------------- PatchConfig


def test_patch_config_is_validated():
    for bad in ({"scheme": "c"}, {"patch_px": 63}, {"box_diameters": 0.0}, {"n_offsets": -1},
                {"negative_min_distance_diameters": -0.1}):
        with pytest.raises(CryopickError, match="invalid patch settings"):
            PatchConfig(**bad)
    assert PatchConfig().working_diameter_px == pytest.approx(64 / 1.35)
