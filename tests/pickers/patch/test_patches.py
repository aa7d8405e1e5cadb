"""Tests for cryopick.pickers.patch.patches and .sampling: patch scale, crops, sampling schemes (a) and (b), data sets."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import make_picks
from cryopick.pickers.patch.patches import (
    PATCH_PX,
    PatchConfig,
    PatchSet,
    extract_patches,
    prepare_image,
    to_unit_range,
)
from cryopick.pickers.patch.sampling import build_patch_set, sample_patches
from cryopick.preprocess import Preprocessed
from cryopick.simulate import SimulationConfig, simulate_micrograph, truth_picks


def disc_micrograph(shape, apix, diameter_A, centres_xy, *, name="m", seed=0, contrast=3.0, noise=1.0):
    """Gaussian noise with dark discs of the given diameter at (x, y) original pixels."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, noise, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    radius = diameter_A / apix / 2
    for x, y in centres_xy:
        data[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] -= contrast
    return Micrograph(name, Path(f"/data/{name}.mrc"), data, apix)


def fake_pre(shape=(300, 400), scale=(2.5, 2.4), diameter_px=64 / 1.35, seed=0, name="m"):
    """A Preprocessed at the patch scale with a random image (no preprocessing needed)."""
    image = np.random.default_rng(seed).random(shape, dtype=np.float32)
    apix_working = 1.0 * 0.5 * (scale[0] + scale[1])
    return Preprocessed(name, image, scale[0], scale[1], apix_working, diameter_px)


def random_particles(pre, n, seed=1):
    ny, nx = pre.image.shape
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(0, nx * pre.scale_x - 1, n), rng.uniform(0, ny * pre.scale_y - 1, n)], axis=1)


def d_orig(pre):
    return pre.diameter_px * 0.5 * (pre.scale_x + pre.scale_y)


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


def test_extract_patches_is_fast():
    img = np.random.default_rng(0).random((1300, 1300), dtype=np.float32)
    centres = np.random.default_rng(1).uniform(0, 1299, (5000, 2))  # some crops need the mirrored border
    rates = []
    for _ in range(3):  # best of three: the first call also pays for fresh output memory
        start = time.perf_counter()
        crops = extract_patches(img, centres, PATCH_PX)
        rates.append(len(centres) / (time.perf_counter() - start))
    assert crops.shape == (5000, 64, 64)
    assert max(rates) > 50_000  # about 300 000 crops/s measured on a 2-core machine


# ----------------------------------------------------------------------------- sample_patches


def test_scheme_a_groups_are_four_rotations():
    pre = fake_pre()
    xy = random_particles(pre, 25)
    ps = sample_patches(pre, xy, PatchConfig(scheme="a"), np.random.default_rng(0), group_offset=100)
    pos = ps.labels == 1
    assert pos.sum() == 4 * 25 and (~pos).sum() == 4 * 25  # balanced
    assert ps.patches.shape == (200, 64, 64) and ps.patches.dtype == np.float32
    pos_groups = np.unique(ps.groups[pos])
    assert len(pos_groups) == 25 and pos_groups.min() == 100
    for g in pos_groups:
        crops = ps.patches[ps.groups == g]
        assert len(crops) == 4
        for k in range(1, 4):
            np.testing.assert_array_equal(crops[k], np.rot90(crops[0], k))
        assert not np.array_equal(crops[1], crops[0])
    # every negative is its own group, distinct from the particles'
    neg_groups = ps.groups[~pos]
    assert len(np.unique(neg_groups)) == len(neg_groups)
    assert not set(neg_groups) & set(pos_groups)
    # the centres recorded are those cut (unrotated crop), in original pixels
    cut = extract_patches(pre.image, ps.centres_xy / [pre.scale_x, pre.scale_y], 64)
    np.testing.assert_array_equal(cut[~pos], ps.patches[~pos])
    np.testing.assert_array_equal(cut[pos][::4], ps.patches[pos][::4])
    assert np.all(ps.micrographs == "m")


def test_scheme_b_offsets_within_limit():
    pre = fake_pre()
    xy = random_particles(pre, 40)
    config = PatchConfig(scheme="b", n_offsets=3)
    ps = sample_patches(pre, xy, config, np.random.default_rng(0))
    pos = ps.labels == 1
    assert pos.sum() == 4 * 40 and (~pos).sum() == 4 * 40
    rounding = 0.5 * np.hypot(pre.scale_x, pre.scale_y)  # a crop is centred on a working pixel
    d = d_orig(pre)
    groups = np.unique(ps.groups[pos])
    assert len(groups) == 40
    # per group: the centred crop first, then the offset crops of the same particle
    centres = np.stack([ps.centres_xy[ps.groups == g] for g in groups])  # (40, 4, 2)
    particle = cKDTree(xy).query(centres[:, 0])[1]
    assert len(set(particle)) == 40
    offsets = np.linalg.norm(centres - xy[particle][:, None, :], axis=-1)
    assert offsets[:, 0].max() <= rounding + 1e-9  # the centred crop
    assert offsets[:, 1:].max() <= 0.2 * d + rounding + 1e-9
    assert offsets[:, 1:].max() > 0.15 * d  # offsets do spread up to the limit
    assert np.median(offsets[:, 1:]) > 0.05 * d
    cut = extract_patches(pre.image, ps.centres_xy / [pre.scale_x, pre.scale_y], 64)
    np.testing.assert_array_equal(cut, ps.patches)


def test_scheme_b_more_offsets_and_more_negatives():
    pre = fake_pre()
    xy = random_particles(pre, 10)
    ps = sample_patches(pre, xy, PatchConfig(scheme="b", n_offsets=5, negatives_per_positive=2.0),
                        np.random.default_rng(0))
    assert (ps.labels == 1).sum() == 60 and (ps.labels == 0).sum() == 120


@pytest.mark.parametrize("scheme", ["a", "b"])
def test_negatives_keep_their_distance(scheme):
    pre = fake_pre(shape=(200, 260), scale=(1.7, 1.9))
    xy = random_particles(pre, 60, seed=3)  # crowded: free area is small but enough
    ps = sample_patches(pre, xy, PatchConfig(scheme=scheme), np.random.default_rng(0))
    neg = ps.centres_xy[ps.labels == 0]
    assert len(neg) == (ps.labels == 1).sum()
    dist, _ = cKDTree(xy).query(neg)
    assert dist.min() >= 0.3 * d_orig(pre)
    assert len(np.unique(neg, axis=0)) == len(neg)  # distinct centres
    ny, nx = pre.image.shape
    assert neg[:, 0].min() >= 0 and neg[:, 0].max() <= (nx - 1) * pre.scale_x
    assert neg[:, 1].min() >= 0 and neg[:, 1].max() <= (ny - 1) * pre.scale_y


def test_crowded_micrograph_uses_every_free_pixel_and_warns(caplog):
    pre = fake_pre(shape=(60, 70), scale=(2.0, 2.0))
    xy = random_particles(pre, 30, seed=5)
    with caplog.at_level(logging.WARNING, logger="cryopick.pickers.patch.sampling"):
        ps = sample_patches(pre, xy, PatchConfig(negatives_per_positive=100.0), np.random.default_rng(0))
    # brute force: every working pixel whose original position is >= 0.3 d from all labels
    yy, xx = np.mgrid[:60, :70]
    pix = np.stack([xx.ravel() * 2.0, yy.ravel() * 2.0], axis=1)
    dist, _ = cKDTree(xy).query(pix)
    expected = pix[dist >= 0.3 * d_orig(pre)]
    neg = ps.centres_xy[ps.labels == 0]
    assert 0 < len(expected) < 100 * 120
    np.testing.assert_array_equal(np.unique(neg, axis=0), np.unique(expected, axis=0))
    assert any("crowded" in r.getMessage() for r in caplog.records)


def test_sample_patches_is_fast_for_a_large_micrograph():
    # a 4096^2 micrograph with 150 Å particles at 1 Å/px is 1295^2 at the patch scale
    pre = fake_pre(shape=(1295, 1295), scale=(4096 / 1295, 4096 / 1295), seed=2)
    xy = random_particles(pre, 300)
    for scheme in ("a", "b"):
        start = time.perf_counter()
        ps = sample_patches(pre, xy, PatchConfig(scheme=scheme), np.random.default_rng(0))
        assert time.perf_counter() - start < 1.0
        assert len(ps) == 2400


def test_labels_outside_are_an_error_naming_the_micrograph():
    pre = fake_pre(name="mic_0007")
    with pytest.raises(CryopickError, match="mic_0007"):
        sample_patches(pre, np.array([[10.0, 10.0], [400 * 2.5 + 1, 5.0]]), PatchConfig(), np.random.default_rng(0))
    # the last pixel's far half is still inside
    ps = sample_patches(pre, np.array([[400 * 2.5 - 0.5, 300 * 2.4 - 0.5]]), PatchConfig(), np.random.default_rng(0))
    assert (ps.labels == 1).sum() == 4


def test_patch_config_is_validated():
    for bad in ({"scheme": "c"}, {"patch_px": 63}, {"box_diameters": 0.0}, {"n_offsets": -1},
                {"negative_min_distance_diameters": -0.1}):
        with pytest.raises(CryopickError, match="invalid patch settings"):
            PatchConfig(**bad)
    assert PatchConfig().working_diameter_px == pytest.approx(64 / 1.35)


# ----------------------------------------------------------------------------- build_patch_set


def three_micrographs():
    apix, diameter_A = 4.0, 120.0  # 30 px particles
    rng = np.random.default_rng(7)
    mics, rows = [], []
    for i, name in enumerate(["a_01", "a_02", "a_03"]):
        xy = rng.uniform(20, 230, (6 + i, 2))
        mics.append(disc_micrograph((256, 256), apix, diameter_A, xy, name=name, seed=i))
        if name != "a_02":  # a_02 has no labels
            rows.append(make_picks(name, xy[:, 0], xy[:, 1]))
    return mics, pd.concat(rows, ignore_index=True), diameter_A


def test_build_patch_set_combines_labelled_micrographs():
    mics, labels, diameter_A = three_micrographs()
    ps = build_patch_set(mics, labels, diameter_A)
    assert isinstance(ps, PatchSet)
    assert set(ps.micrographs) == {"a_01", "a_03"}
    assert (ps.labels == 1).sum() == 4 * len(labels) == (ps.labels == 0).sum()
    # group ids never repeat across micrographs
    for name in ("a_01", "a_03"):
        others = set(ps.groups[ps.micrographs != name])
        assert not set(ps.groups[ps.micrographs == name]) & others
    assert ps.patches.min() >= 0 and ps.patches.max() <= 1
    assert len(ps.centres_xy) == len(ps) and ps.groups.dtype == np.int64


def test_build_patch_set_is_deterministic_by_seed():
    mics, labels, diameter_A = three_micrographs()
    config = PatchConfig(scheme="b", seed=3)
    one = build_patch_set(mics, labels, diameter_A, config)
    two = build_patch_set(mics, labels, diameter_A, config)
    for field in ("patches", "labels", "groups", "micrographs", "centres_xy"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))
    other = build_patch_set(mics, labels, diameter_A, PatchConfig(scheme="b", seed=4))
    assert not np.array_equal(one.centres_xy, other.centres_xy)
    # a micrograph's patches do not depend on which others are in the set
    alone = build_patch_set(mics[2:], labels, diameter_A, config)
    np.testing.assert_array_equal(alone.patches, one.patches[one.micrographs == "a_03"])


def test_build_patch_set_errors():
    mics, labels, diameter_A = three_micrographs()
    renamed = labels.assign(micrograph=labels["micrograph"] + "_DW")
    with pytest.raises(CryopickError, match="no labelled particles.*file stem"):
        build_patch_set(mics, renamed, diameter_A)
    outside = labels.copy()
    outside.loc[0, "x"] = 300.0
    with pytest.raises(CryopickError, match="a_01"):
        build_patch_set(mics, outside, diameter_A)
    with pytest.raises(CryopickError, match="share the name"):
        build_patch_set([mics[0], mics[0]], labels, diameter_A)


def test_simulated_particles_are_darker_at_the_centre_than_negatives():
    config = SimulationConfig(n_micrographs=1, shape=(512, 512), apix=4.0, seed=1, junk="none")
    sim = simulate_micrograph(config, 0)
    truth = truth_picks(sim.objects)
    diameter_A = float(np.median(truth["diameter_px"])) * config.apix
    mic = Micrograph(sim.name, Path(f"{sim.name}.mrc"), sim.image, config.apix)
    ps = build_patch_set([mic], truth, diameter_A)
    centre = ps.patches[:, 24:40, 24:40].mean(axis=(1, 2))
    pos, neg = centre[ps.labels == 1], centre[ps.labels == 0]
    assert len(pos) == 4 * len(truth)
    assert pos.mean() < neg.mean() - 3 * neg.std() / np.sqrt(len(neg))
