"""Region masks: finding them by micrograph name, reading them at the right shape, resizing them."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.masks import find_mask, read_mask, resize_mask
from cryopick.io.micrographs import write_image, write_mrc


def _block_mask(shape: tuple[int, int] = (30, 50)) -> np.ndarray:
    """A non-square mask with an off-centre block, so a transposed or flipped read shows."""
    mask = np.zeros(shape, dtype=bool)
    mask[5:12, 8:30] = True
    mask[20:, 40:] = True
    return mask


# ----------------------------------------------------------------------------- find_mask


@pytest.mark.parametrize("filename", ["mic_001.png", "mic_001_mask.mrc", "mic_001.mask.tif", "mic_001.tiff"])
def test_find_mask_by_micrograph_name(tmp_path, filename):
    (tmp_path / filename).write_bytes(b"x")
    (tmp_path / "mic_0010.png").write_bytes(b"x")  # a longer name that starts the same is not it
    (tmp_path / "mic_00.png").write_bytes(b"x")
    (tmp_path / "other_mask.png").write_bytes(b"x")
    assert find_mask(tmp_path, "mic_001") == tmp_path / filename


def test_find_mask_suffix_case_like_micrographs(tmp_path):
    (tmp_path / "mic_001_mask.TIF").write_bytes(b"x")
    assert find_mask(tmp_path, "mic_001") == tmp_path / "mic_001_mask.TIF"


def test_find_mask_none_when_micrograph_has_none(tmp_path):
    (tmp_path / "mic_002.png").write_bytes(b"x")
    (tmp_path / "mic_001.txt").write_bytes(b"x")  # not an image
    (tmp_path / "mic_001.png").mkdir()  # a folder named like a mask is not one
    assert find_mask(tmp_path, "mic_001") is None


def test_find_mask_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "no_such_masks"
    with pytest.raises(CryopickError) as err:
        find_mask(missing, "mic_001")
    assert err.value.path == missing
    assert "not found" in err.value.problem and err.value.fix
    assert str(missing) in str(err.value)


def test_find_mask_given_a_file_instead_of_folder(tmp_path):
    file = tmp_path / "mask.png"
    file.write_bytes(b"x")
    with pytest.raises(CryopickError):
        find_mask(file, "mask")


# ----------------------------------------------------------------------------- read_mask


@pytest.mark.parametrize("suffix", [".png", ".mrc", ".tif"])
def test_read_mask_round_trip_non_square(tmp_path, suffix):
    mask = _block_mask()
    path = tmp_path / f"mic{suffix}"
    write_image(path, mask.astype(np.float32), apix=1.0)
    back = read_mask(path, mask.shape)
    assert back.dtype == bool and back.shape == (30, 50)
    np.testing.assert_array_equal(back, mask)


def test_read_mask_any_non_zero_is_inside(tmp_path):
    data = np.zeros((20, 24), dtype=np.float32)
    data[2, 3], data[4, 5], data[6, 7] = 1.0, -2.5, 1e-3
    path = tmp_path / "m.mrc"
    write_mrc(path, data, apix=1.0)
    back = read_mask(path, data.shape)
    assert back.sum() == 3 and back[2, 3] and back[4, 5] and back[6, 7]


def test_read_mask_all_zero_is_empty_not_an_error(tmp_path):
    path = tmp_path / "m.mrc"
    write_mrc(path, np.zeros((16, 24), dtype=np.float32), apix=1.0)
    assert not read_mask(path, (16, 24)).any()


@pytest.mark.parametrize("shape", [(50, 30), (30, 51), (60, 100)])
def test_read_mask_wrong_shape_names_file_sizes_and_fix(tmp_path, shape):
    path = tmp_path / "mic.png"
    write_image(path, _block_mask().astype(np.float32), apix=1.0)
    with pytest.raises(CryopickError) as err:
        read_mask(path, shape)
    message = str(err.value)
    assert err.value.path == path and str(path) in message
    assert "50x30" in message  # the mask: columns x rows
    assert f"{shape[1]}x{shape[0]}" in message  # the micrograph
    assert err.value.fix and "size" in err.value.fix


def test_read_mask_unreadable_file_is_a_cryopick_error(tmp_path):
    path = tmp_path / "mic.png"
    path.write_bytes(b"definitely not a png")
    with pytest.raises(CryopickError) as err:
        read_mask(path, (10, 10))
    assert err.value.path == path


# ----------------------------------------------------------------------------- resize_mask


def test_resize_same_shape_is_an_independent_copy():
    mask = _block_mask()
    out = resize_mask(mask, mask.shape)
    np.testing.assert_array_equal(out, mask)
    out[0, 0] = True
    assert not mask[0, 0]


@pytest.mark.parametrize("shape", [(50, 80), (200, 320), (37, 59), (13, 21), (100, 40)])
def test_resize_keeps_area_and_place(shape):
    mask = np.zeros((100, 160), dtype=bool)
    mask[20:60, 40:100] = True
    out = resize_mask(mask, shape)
    assert out.shape == shape and out.dtype == bool
    sy, sx = shape[0] / 100, shape[1] / 160
    expected_area = mask.sum() * sy * sx
    # a block keeps its area within a few % (plus at most one pixel row/column of edge rounding)
    assert abs(out.sum() - expected_area) <= 0.04 * expected_area + (40 * sy + 60 * sx)
    rows, cols = np.nonzero(out)
    # its centre stays in place (scaled, pixel centres: (i + 0.5) * scale - 0.5)
    assert abs(rows.mean() - ((39.5 + 0.5) * sy - 0.5)) <= 1.0
    assert abs(cols.mean() - ((69.5 + 0.5) * sx - 0.5)) <= 1.0


def test_resize_exact_halving_and_doubling():
    mask = np.zeros((100, 160), dtype=bool)
    mask[20:60, 40:100] = True
    half = resize_mask(mask, (50, 80))
    expected = np.zeros((50, 80), dtype=bool)
    expected[10:30, 20:50] = True
    np.testing.assert_array_equal(half, expected)
    np.testing.assert_array_equal(resize_mask(half, (100, 160)), mask)


def test_resize_empty_and_full_masks_stay_so():
    assert not resize_mask(np.zeros((64, 90), bool), (17, 23)).any()
    assert resize_mask(np.ones((64, 90), bool), (17, 23)).all()
    assert resize_mask(np.ones((17, 23), bool), (64, 90)).all()


def test_resize_downsampling_follows_area_fraction_for_fine_masks():
    """A pixel is inside when at least half its area is: true for speckled masks too (e.g. from a segmentation)."""
    rng = np.random.default_rng(0)
    mask = rng.random((320, 480)) < 0.6
    out = resize_mask(mask, (40, 60))  # 8 x 8 input pixels per output pixel
    area_fraction = mask.reshape(40, 8, 60, 8).mean(axis=(1, 3))
    disagree = out != (area_fraction >= 0.5)
    assert disagree.mean() < 0.02
