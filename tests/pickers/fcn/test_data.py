"""Label maps and training crops of the fully convolutional picker (cryopick.pickers.fcn.data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from cryopick.pickers.fcn.data import (
    FCN_PREPROCESS,
    INPUT_CLIP,
    CropSampler,
    DenseImage,
    dense_image,
    disc_map,
    labelled_image,
    network_input,
)
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import make_picks
from cryopick.preprocess import Preprocessed


def _brute_disc(shape: tuple[int, int], centres_xy: np.ndarray, radius_px: float) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    out = np.zeros(shape, dtype=bool)
    for x, y in np.asarray(centres_xy, dtype=float).reshape(-1, 2):
        out |= (cols - x) ** 2 + (rows - y) ** 2 <= radius_px ** 2
    return out


def _pre(image: np.ndarray, name: str = "mic", diameter_px: float = 16.0) -> Preprocessed:
    return Preprocessed(name, np.asarray(image, dtype=np.float32), 1.0, 1.0, 4.0, diameter_px)


def _dense(image: np.ndarray, positive: np.ndarray, labels_xy: np.ndarray, *, weight: np.ndarray | None = None,
           background: np.ndarray | None = None, validation_start_row: int | None = None) -> DenseImage:
    """A DenseImage with arbitrary maps (no clipping), to follow pixels through the sampler."""
    shape = image.shape
    return DenseImage("mic", np.asarray(image, dtype=np.float32), np.asarray(labels_xy, dtype=float).reshape(-1, 2),
                      positive.astype(bool), np.ones(shape, np.float32) if weight is None else weight,
                      np.zeros(shape, bool) if background is None else background,
                      shape[0] if validation_start_row is None else validation_start_row, _pre(image))


# ----------------------------------------------------------------------------- disc_map, network_input


@pytest.mark.parametrize("radius", [0.0, 0.5, 1.0, 2.4, 3.0, 4.5])
def test_disc_map_equals_brute_force(radius):
    rng = np.random.default_rng(int(radius * 10))
    shape = (23, 31)
    centres = np.concatenate([
        rng.integers(0, 31, (6, 2)).astype(float),                 # integer positions
        rng.integers(0, 23, (6, 2)) + 0.5,                          # half-integer positions (rounding ties)
        rng.uniform(-4, 35, (12, 2)),                               # anywhere, also beyond the edges
        [[-0.5, 11.5], [30.5, 22.5], [2.5, -1.5], [-3.2, -3.2], [33.9, 10.0], [31.0, 23.0]],
    ])
    for c in centres:  # one at a time: each disc on its own
        np.testing.assert_array_equal(disc_map(shape, c[None], radius), _brute_disc(shape, c[None], radius),
                                      err_msg=f"centre {c}, radius {radius}")
    np.testing.assert_array_equal(disc_map(shape, centres, radius), _brute_disc(shape, centres, radius))


def test_disc_map_counts_and_empty():
    assert disc_map((20, 20), np.array([[10.0, 10.0]]), 1.0).sum() == 5
    assert disc_map((20, 20), np.array([[10.5, 10.5]]), 1.0).sum() == 4
    assert disc_map((20, 20), np.array([[10.0, 10.0]]), 2.4).sum() == 21
    assert not disc_map((20, 20), np.empty((0, 2)), 3.0).any()
    assert not disc_map((20, 20), np.array([[-10.0, 5.0], [5.0, 40.0]]), 3.0).any()


def test_network_input_clips_and_is_float32():
    image = np.array([[-100.0, -2.0], [3.0, 1e9]])
    out = network_input(image)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[-INPUT_CLIP, -2.0], [3.0, INPUT_CLIP]])


# ----------------------------------------------------------------------------- dense_image


def test_dense_image_maps_and_validation_strip():
    rng = np.random.default_rng(0)
    image = rng.normal(0, 3, (100, 80)).astype(np.float32)
    labels = np.array([[10.0, 20.0], [70.5, 50.0], [40.0, 95.0]])
    uncertain = np.zeros((100, 80), bool)
    uncertain[:10, :] = True
    background = np.zeros((100, 80), bool)
    background[50:60, 0:30] = True
    img = dense_image(_pre(image), labels, 2.4, validation_fraction=0.2, uncertain=uncertain, background=background)
    assert img.shape == (100, 80)
    assert img.validation_start_row == 80 and img.train_rows() == slice(0, 80)
    np.testing.assert_array_equal(img.image, network_input(image))
    np.testing.assert_array_equal(img.positive, _brute_disc((100, 80), labels, 2.4))
    np.testing.assert_array_equal(img.labels_xy, labels)
    assert img.weight.dtype == np.float32
    np.testing.assert_array_equal(img.weight, np.where(uncertain, 0.0, 1.0))
    np.testing.assert_array_equal(img.background, background)
    assert img.name == "mic"


@pytest.mark.parametrize(("fraction", "start"), [(0.0, 100), (0.15, 85), (0.3, 70)])
def test_dense_image_validation_fraction_is_bottom_rows(fraction, start):
    img = dense_image(_pre(np.zeros((100, 40))), np.empty((0, 2)), 2.0, validation_fraction=fraction)
    assert img.validation_start_row == start
    assert not img.positive.any() and img.weight.all() and not img.background.any()


@pytest.mark.parametrize("which", ["uncertain", "background"])
def test_dense_image_wrong_mask_shape_is_an_error(which):
    with pytest.raises(ValueError, match=which):
        dense_image(_pre(np.zeros((30, 40))), np.empty((0, 2)), 2.0, **{which: np.zeros((40, 30), bool)})


def test_with_labels_replaces_positives_keeps_the_rest():
    uncertain = np.zeros((50, 60), bool)
    uncertain[:5] = True
    img = dense_image(_pre(np.zeros((50, 60))), [[10.0, 10.0]], 2.0, uncertain=uncertain)
    new = img.with_labels(np.array([[30.0, 40.0], [50.0, 20.0]]), 2.0)
    np.testing.assert_array_equal(new.positive, _brute_disc((50, 60), [[30, 40], [50, 20]], 2.0))
    assert new.labels_xy.shape == (2, 2)
    assert new.weight is img.weight and new.validation_start_row == img.validation_start_row
    assert img.positive[10, 10]  # the original is unchanged


# ----------------------------------------------------------------------------- labelled_image


def _micrograph(shape: tuple[int, int] = (300, 420), apix: float = 4.0, seed: int = 0) -> Micrograph:
    data = np.random.default_rng(seed).normal(0, 1, shape).astype(np.float32)
    return Micrograph("mic", Path("/data/mic.mrc"), data, apix)


def test_labelled_image_untrusted_labels_are_ignored_not_learned():
    mic = _micrograph()
    labels = make_picks("mic", [100.0, 300.0], [80.0, 150.0], score=[0.9, 0.1])
    img = labelled_image(mic, labels, 100.0, min_label_score=0.5, validation_fraction=0.0)
    pre = img.preprocessed
    assert pre.diameter_px == pytest.approx(FCN_PREPROCESS.working_diameter_px, rel=0.02)
    good = np.array([100.0 / pre.scale_x, 80.0 / pre.scale_y])
    bad = np.array([300.0 / pre.scale_x, 150.0 / pre.scale_y])
    np.testing.assert_allclose(img.labels_xy, good[None])
    np.testing.assert_array_equal(img.positive, disc_map(img.shape, good[None], 0.15 * pre.diameter_px))
    # a particle-sized disc around the doubtful label takes no part in the loss
    ignored = img.weight == 0
    np.testing.assert_array_equal(ignored, disc_map(img.shape, bad[None], 0.5 * pre.diameter_px))
    assert not img.positive[ignored].any()


def test_labelled_image_without_min_score_keeps_every_label():
    mic = _micrograph()
    labels = make_picks("mic", [100.0, 300.0], [80.0, 150.0], score=[0.9, 0.1])
    img = labelled_image(mic, labels, 100.0)
    assert len(img.labels_xy) == 2 and img.weight.all()
    # labels are mapped to working pixels: x / scale_x, y / scale_y
    pre = img.preprocessed
    np.testing.assert_allclose(img.labels_xy, [[100 / pre.scale_x, 80 / pre.scale_y], [300 / pre.scale_x,
                                                                                      150 / pre.scale_y]])
    assert img.validation_start_row == img.shape[0] - round(0.15 * img.shape[0])


def test_labelled_image_resizes_masks_to_working_scale():
    mic = _micrograph()
    uncertain = np.zeros(mic.shape, bool)
    uncertain[:, :210] = True  # left half
    background = np.zeros(mic.shape, bool)
    background[150:, 210:] = True  # bottom-right quarter
    img = labelled_image(mic, make_picks("mic", [], []), 100.0, uncertain=uncertain, background=background)
    ny, nx = img.shape
    assert (ny, nx) != mic.shape
    assert abs((img.weight == 0).mean() - 0.5) < 0.02
    assert (img.weight[:, : nx // 2 - 1] == 0).all() and (img.weight[:, nx // 2 + 1:] == 1).all()
    assert abs(img.background.mean() - 0.25) < 0.02
    assert img.background[ny // 2 + 1:, nx // 2 + 1:].all()
    assert not img.background[: ny // 2 - 1].any() and not img.background[:, : nx // 2 - 1].any()


def test_labelled_image_labels_without_scores_are_trusted():
    """Labels from a file without scores (NaN) are kept whatever min_label_score says."""
    mic = _micrograph()
    labels = pd.DataFrame({"micrograph": ["mic", "mic"], "x": [100.0, 300.0], "y": [80.0, 150.0],
                           "score": [np.nan, np.nan], "diameter_px": [np.nan, np.nan]})
    img = labelled_image(mic, labels, 100.0, min_label_score=0.5)
    assert len(img.labels_xy) == 2 and img.weight.all()


# ----------------------------------------------------------------------------- CropSampler


def _numbered_image(shape: tuple[int, int]) -> np.ndarray:
    """Every pixel its own value (1 ... n; 0 is the sampler's padding), exact in float32."""
    return (np.arange(shape[0] * shape[1], dtype=np.float32) + 1).reshape(shape)


def _where_from(values: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Original (row, col) of numbered-image values, and which values came from inside the image."""
    index = np.rint(values).astype(np.int64) - 1
    inside = index >= 0
    rows, cols = np.divmod(np.where(inside, index, 0), shape[1])
    return rows, cols, inside


def _spots_image(shape: tuple[int, int], spacing: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bright single pixels at irregular labels; returns (image, labels_xy)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[spacing // 2:shape[0] - spacing // 2:spacing, spacing // 2:shape[1] - spacing // 2:spacing]
    xy = np.c_[xs.ravel(), ys.ravel()] + rng.integers(-spacing // 4, spacing // 4 + 1, (xs.size, 2))
    image = np.zeros(shape, np.float32)
    image[xy[:, 1], xy[:, 0]] = 4.0
    return image, xy.astype(float)


@pytest.mark.parametrize("core", [20, 21])
def test_crops_without_rotation_carry_maps_with_the_image(core):
    """rot90/flip crops: every core pixel's maps are those of the input pixel it shows."""
    shape = (90, 70)
    image = _numbered_image(shape)
    rng = np.random.default_rng(1)
    positive = rng.random(shape) < 0.3
    background = rng.random(shape) < 0.2
    weight = (rng.random(shape) < 0.8).astype(np.float32)
    labels = np.c_[rng.uniform(0, 70, 30), rng.uniform(0, 90, 30)]
    img = _dense(image, positive, labels, weight=weight, background=background, validation_start_row=70)
    margin = 6
    sampler = CropSampler([img], core, margin, rotate=False, rng=np.random.default_rng(2), positive_core_px=9)
    uniform, pos = sampler.sample(40, 40)
    assert pos is not None
    transforms = set()
    for batch, side in ((uniform, core), (pos, 9)):
        assert batch.inputs.shape == (40, 1, side + 2 * margin, side + 2 * margin)
        assert batch.positive.shape == batch.unlabeled.shape == batch.background.shape == (40, side, side)
        for b in range(40):
            core_values = batch.inputs[b, 0, margin:margin + side, margin:margin + side].numpy()
            rows, cols, inside = _where_from(core_values, shape)
            train = inside & (rows < 70)
            w = train & (weight[rows, cols] > 0)
            np.testing.assert_array_equal(batch.positive[b].numpy(), w & positive[rows, cols])
            np.testing.assert_array_equal(batch.background[b].numpy(), w & background[rows, cols])
            np.testing.assert_array_equal(batch.unlabeled[b].numpy(), w & ~background[rows, cols])
            # the crop is the input turned as a whole: neighbours stay neighbours
            d_row = (rows[0, 1] - rows[0, 0], cols[0, 1] - cols[0, 0])
            d_col = (rows[1, 0] - rows[0, 0], cols[1, 0] - cols[0, 0])
            if inside[:2, :2].all():
                transforms.add((d_row, d_col))
    assert len(transforms) == 8  # all four rotations, each with and without mirror


def test_positive_crops_are_centred_near_training_labels():
    shape = (120, 100)
    image, labels = _spots_image(shape, 20, seed=3)
    positive = disc_map(shape, labels, 1.5)
    img = _dense(image, positive, labels, validation_start_row=60)
    sampler = CropSampler([img], 32, 5, rotate=False, rng=np.random.default_rng(0), positive_core_px=12)
    assert len(sampler.labels[0]) == int((labels[:, 1] < 60).sum())
    _, pos = sampler.sample(4, 64)
    core = pos.inputs[:, 0, 5:17, 5:17].numpy()
    assert all(pos.positive[b].any() for b in range(64))
    assert all((core[b] == 4.0).any() for b in range(64))  # the label's spot is in every positive crop


def test_no_positive_crops_when_every_label_is_held_out():
    shape = (80, 80)
    labels = np.array([[20.0, 75.0], [40.0, 78.0]])
    img = _dense(np.zeros(shape), disc_map(shape, labels, 2.0), labels, validation_start_row=70)
    sampler = CropSampler([img], 16, 4, rotate=False, rng=np.random.default_rng(0))
    assert not sampler.has_labels
    uniform, pos = sampler.sample(3, 5)
    assert pos is None and uniform.inputs.shape[0] == 3


@pytest.mark.parametrize("rotate", [False, True])
def test_uniform_crops_never_learn_from_the_validation_strip(rotate):
    shape = (100, 60)
    image = np.zeros(shape, np.float32)
    image[50:] = 4.0  # the held-out rows (validation_fraction 0.5) are marked in the image
    img = dense_image(_pre(image), np.array([[30.0, 20.0]]), 2.0, validation_fraction=0.5)
    assert img.validation_start_row == 50
    sampler = CropSampler([img], 24, 6, rotate=rotate, rng=np.random.default_rng(4), positive_core_px=8)
    seen_strip = 0
    for _ in range(3):
        uniform, _ = sampler.sample(32, 2)
        core = uniform.inputs[:, 0, 6:30, 6:30].numpy()
        held_out = core > 3.99 if rotate else core == 4.0  # bilinear: all four neighbours in the strip
        seen_strip += int(held_out.sum())
        assert not (uniform.unlabeled.numpy() & held_out).any()
        assert not (uniform.positive.numpy() & held_out).any()
        assert uniform.unlabeled.any()
    assert seen_strip > 0  # crops near the strip do show it (as context), so the check above can fail


def test_several_images_are_all_sampled():
    images = []
    for k, shape in enumerate([(60, 50), (40, 90)]):
        image = np.full(shape, float(k + 1), np.float32)
        labels = np.array([[20.0, 20.0]])
        images.append(_dense(image, disc_map(shape, labels, 2.0), labels))
    sampler = CropSampler(images, 16, 3, rotate=False, rng=np.random.default_rng(0))
    uniform, pos = sampler.sample(60, 60)
    for batch in (uniform, pos):  # each crop shows one image (its largest value, 0 is padding)
        source = batch.inputs.amax(dim=(1, 2, 3)).numpy()
        assert set(np.unique(source)) == {1.0, 2.0}


def test_rotated_crops_carry_maps_with_the_image():
    """Random angles: each spot's brightest pixel lies on (or next to) a positive pixel, and vice versa."""
    shape = (160, 140)
    image, labels = _spots_image(shape, 20, seed=5)
    img = _dense(image, disc_map(shape, labels, 1.5), labels)
    margin, core = 4, 40
    sampler = CropSampler([img], core, margin, rotate=True, rng=np.random.default_rng(6), positive_core_px=12)
    uniform, pos = sampler.sample(48, 48)
    n_spots, n_off_grid = 0, 0
    for batch, side in ((uniform, core), (pos, 12)):
        for b in range(batch.inputs.shape[0]):
            full = batch.inputs[b, 0].numpy()
            positive = np.zeros(full.shape, bool)
            positive[margin:margin + side, margin:margin + side] = batch.positive[b].numpy()
            # spots: local maxima of the bilinear image, well inside the core
            peaks = (full == ndimage.maximum_filter(full, size=5)) & (full > 1.0)
            peaks[:margin + 2] = peaks[-margin - 2:] = False
            peaks[:, :margin + 2] = peaks[:, -margin - 2:] = False
            near_positive = ndimage.distance_transform_edt(~positive) if positive.any() else None
            for r, c in zip(*np.nonzero(peaks)):
                n_spots += 1
                assert near_positive is not None and near_positive[r, c] <= 1.5, (b, r, c)
            # and every positive pixel is near a spot
            if positive.any():
                near_spot = ndimage.distance_transform_edt(full < 0.5)
                assert near_spot[positive].max() <= 2.5
            n_off_grid += int(((full > 0.05) & (full < 3.95)).any())
    assert n_spots > 100
    assert n_off_grid > 48  # the spots are resampled: angles are not multiples of 90 degrees


# ----------------------------------------------------------------------------- known background (junk)


def test_labels_on_known_background_are_dropped():
    """A label inside a background mask contradicts it (a click on junk): it is not learned from."""
    mic = _micrograph()
    background = np.zeros(mic.shape, bool)
    background[100:200, 250:350] = True
    labels = make_picks("mic", [100.0, 300.0], [80.0, 150.0])
    img = labelled_image(mic, labels, 100.0, background=background)
    pre = img.preprocessed
    np.testing.assert_allclose(img.labels_xy, [[100 / pre.scale_x, 80 / pre.scale_y]])
    assert not (img.positive & img.background).any()


def test_background_crops_show_every_piece_of_junk_alike():
    """Crops centred on known background: each connected region is drawn equally often, whatever its size,
    and never from the held-out strip."""
    shape = (120, 160)
    image = _numbered_image(shape)
    background = np.zeros(shape, bool)
    background[:, :60] = True            # a large carbon-like region (6000 px)
    background[20:24, 100:104] = True    # a dot (16 px)
    background[70:76, 120:126] = True    # another small piece (36 px)
    background[110:, 130:140] = True     # in the held-out strip: never a centre
    img = _dense(image, np.zeros(shape, bool), np.array([[80.0, 50.0]]), background=background,
                 validation_start_row=100)
    sampler = CropSampler([img], 24, 4, rotate=False, rng=np.random.default_rng(5), positive_core_px=9)
    assert sampler.has_background
    assert sampler.background_fraction == pytest.approx((100 * 60 + 16 + 36) / (100 * 160))
    batch = sampler.sample_background(300)
    centre = batch.inputs[:, 0, 4 + 4, 4 + 4].numpy()  # the core's centre pixel (core 9, margin 4)
    rows, cols, inside = _where_from(centre, shape)
    assert inside.all() and (rows < 100).all()
    region = np.where(cols < 60, 0, np.where(rows < 50, 1, 2))
    counts = np.bincount(region, minlength=3)
    assert counts.min() > 60, counts  # about 100 each, not 6000 : 16 : 36
    assert all(batch.background[b].any() for b in range(300))
    none = CropSampler([_dense(image, np.zeros(shape, bool), np.array([[80.0, 50.0]]))], 24, 4, rotate=False,
                       rng=np.random.default_rng(5))
    assert not none.has_background and none.sample_background(4) is None
