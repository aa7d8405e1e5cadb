"""Tests for cryopick.pickers.patch.sampling: sampling schemes (a) and (b), negatives, data sets of many micrographs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import make_picks
from cryopick.pickers.patch.patches import PatchConfig, PatchSet, extract_patches
from cryopick.pickers.patch.sampling import build_patch_set, sample_patches
from cryopick.preprocess import Preprocessed
from cryopick.simulate import SimulationConfig, simulate_micrograph, truth_picks
from tests.pickers.patch.conftest import disc_micrograph


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


def test_sample_patches_for_a_large_micrograph():
    # a 4096^2 micrograph with 150 Å particles at 1 Å/px is 1295^2 at the patch scale
    pre = fake_pre(shape=(1295, 1295), scale=(4096 / 1295, 4096 / 1295), seed=2)
    xy = random_particles(pre, 300)
    for scheme in ("a", "b"):
        ps = sample_patches(pre, xy, PatchConfig(scheme=scheme), np.random.default_rng(0))
        assert len(ps) == 2400


def test_labels_outside_are_an_error_naming_the_micrograph():
    pre = fake_pre(name="mic_0007")
    with pytest.raises(CryopickError, match="mic_0007"):
        sample_patches(pre, np.array([[10.0, 10.0], [400 * 2.5 + 1, 5.0]]), PatchConfig(), np.random.default_rng(0))
    # the last pixel's far half is still inside
    ps = sample_patches(pre, np.array([[400 * 2.5 - 0.5, 300 * 2.4 - 0.5]]), PatchConfig(), np.random.default_rng(0))
    assert (ps.labels == 1).sum() == 4


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
