"""Micrographs in and out: real headers, every dtype, TIFF/PNG/JPG, errors, and listing inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import tifffile
from mrcfile.dtypes import HEADER_DTYPE
from PIL import Image

from cryopick.errors import CryopickError
from tests.conftest import SHARED_DATA
from cryopick.io.micrographs import (
    read_micrograph,
    read_micrograph_info,
    write_image,
    write_mrc,
)

SHAPE = (50, 70)  # (ny, nx): non-square so a swapped axis fails
REAL = "real-micrographs-unlabeled"


def real_data_dir() -> Path:
    """../shared/data beside the repository (CI and developers have it; users do not)."""
    folder = SHARED_DATA / REAL
    if not folder.is_dir():
        pytest.skip(f"real micrographs folder {folder} is absent (only CI and developers have it)")
    return folder


def ramp(dtype: str) -> np.ndarray:
    """Distinct, exactly representable values covering the dtype's sign."""
    offset = 100 if np.dtype(dtype).kind in "if" else 0
    values = np.arange(SHAPE[0] * SHAPE[1]).reshape(SHAPE) % 200 - offset
    return values.astype(dtype)


def write_raw_mrc(path: Path, data: np.ndarray, apix: float | None = 1.5) -> Path:
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        if apix is not None:
            mrc.voxel_size = apix
    return path


def expect_error(path: Path, *needles: str, **kwargs: object) -> CryopickError:
    with pytest.raises(CryopickError) as info:
        read_micrograph(path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert path.name in message and "fix:" in message and "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return info.value


# ----------------------------------------------------------------------------- real files


def test_real_epu_micrograph_fei2_header() -> None:
    path = real_data_dir() / "epu2.9_example.mrc"
    info = read_micrograph_info(path)
    assert info.shape == (4096, 4096) and info.dtype == "uint16" and info.name == "epu2.9_example"
    assert info.apix == pytest.approx(0.6666, abs=1e-3)
    mic = read_micrograph(path)
    assert mic.data.dtype == np.float32 and mic.shape == (4096, 4096) and mic.apix == info.apix
    with mrcfile.mmap(path, permissive=True) as mrc:
        assert bytes(mrc.header.exttyp) == b"FEI2"
        np.testing.assert_array_equal(mic.data[::97, ::89], mrc.data[::97, ::89])


def test_real_fei1_micrograph_is_non_square_with_right_axes() -> None:
    path = real_data_dir() / "fei-extended.mrc"
    with mrcfile.mmap(path, permissive=True) as mrc:
        nx, ny = int(mrc.header.nx), int(mrc.header.ny)
        assert bytes(mrc.header.exttyp) == b"FEI1"
        corner = np.array(mrc.data[:5, -7:], dtype=np.float32)
    assert (nx, ny) == (3710, 3838)
    info = read_micrograph_info(path, apix=2.0)
    assert info.shape == (ny, nx) and info.apix == 2.0  # override wins over the header
    mic = read_micrograph(path)
    assert mic.shape == (ny, nx) and mic.apix == pytest.approx(0.8538, abs=1e-3)
    np.testing.assert_array_equal(mic.data[:5, -7:], corner)


# ----------------------------------------------------------------------------- MRC


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "uint16", "float16", "float32"])
def test_every_dtype_round_trips_through_mrc(tmp_path: Path, dtype: str) -> None:
    data = ramp(dtype)
    path = write_raw_mrc(tmp_path / f"m_{dtype}.mrc", data, apix=1.25)
    mic = read_micrograph(path)
    assert mic.data.dtype == np.float32 and mic.shape == SHAPE and mic.apix == pytest.approx(1.25)
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))
    assert read_micrograph_info(path).shape == SHAPE


def test_big_endian_mrc(tmp_path: Path) -> None:
    data = ramp("float32")
    path = write_raw_mrc(tmp_path / "le.mrc", data, apix=1.5)
    raw = path.read_bytes()
    header = np.frombuffer(raw[:1024], dtype=HEADER_DTYPE).astype(HEADER_DTYPE.newbyteorder(">"))
    header["machst"] = np.frombuffer(bytes([0x11, 0x11, 0, 0]), "u1")  # big-endian stamp
    swapped = tmp_path / "be.mrc"
    swapped.write_bytes(header.tobytes() + np.frombuffer(raw[1024:], "<f4").astype(">f4").tobytes())
    mic = read_micrograph(swapped)
    assert mic.apix == pytest.approx(1.5) and mic.data.dtype == np.dtype("=f4")
    np.testing.assert_array_equal(mic.data, data)


def test_imod_mode0_is_read_as_unsigned_bytes(tmp_path: Path) -> None:
    data = (np.arange(SHAPE[0] * SHAPE[1]).reshape(SHAPE) % 256).astype(np.uint8)
    path = write_raw_mrc(tmp_path / "imod.mrc", data.view(np.int8))
    raw = bytearray(path.read_bytes())
    raw[152:160] = np.array([1146047817, 0], "<i4").tobytes()  # imodStamp, imodFlags (unsigned)
    path.write_bytes(bytes(raw))
    assert read_micrograph_info(path).dtype == "uint8"
    np.testing.assert_array_equal(read_micrograph(path).data, data.astype(np.float32))


def test_write_mrc_keeps_apix_atomically_and_overwrites(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=SHAPE)
    path = tmp_path / "sub" / "out.mrc"
    write_mrc(path, data, apix=1.06)
    write_mrc(path, data * 2, apix=1.06)
    mic = read_micrograph(path)
    assert mic.apix == pytest.approx(1.06) and mic.shape == SHAPE
    np.testing.assert_allclose(mic.data, (data * 2).astype(np.float32))
    assert [p.name for p in path.parent.iterdir()] == ["out.mrc"]  # no temporary left behind
    with mrcfile.open(path) as mrc:
        assert mrc.data.dtype == np.float32
    with pytest.raises(CryopickError, match="2D"):
        write_mrc(tmp_path / "x.mrc", np.zeros((2, 3, 4)), apix=1.0)
    with pytest.raises(CryopickError, match="--apix"):
        write_mrc(tmp_path / "x.mrc", data, apix=0.0)
    assert not (tmp_path / "x.mrc").exists()


def test_single_section_3d_reads_and_stack_is_refused(tmp_path: Path) -> None:
    one = write_raw_mrc(tmp_path / "one.mrc", ramp("float32")[None])
    assert read_micrograph(one).shape == SHAPE
    movie = write_raw_mrc(tmp_path / "movie.mrcs", np.stack([ramp("float32")] * 3))
    expect_error(movie, "stack or movie", "one motion-corrected micrograph per file")
    with pytest.raises(CryopickError, match="movie.mrcs"):
        read_micrograph_info(movie)


def test_pixel_size_missing_override_and_bad_override(tmp_path: Path) -> None:
    path = write_raw_mrc(tmp_path / "noapix.mrc", ramp("float32"), apix=None)
    expect_error(path, "pixel size", "--apix")
    assert read_micrograph(path, apix=3.0).apix == 3.0
    info = read_micrograph_info(path, require_apix=False)
    assert np.isnan(info.apix) and info.shape == SHAPE
    good = write_raw_mrc(tmp_path / "good.mrc", ramp("float32"), apix=1.5)
    for bad in (0.0, -1.0, float("nan")):
        expect_error(good, "not a positive number", apix=bad)


# mrcfile warns about NaN while computing header statistics when the test writes the file.
@pytest.mark.filterwarnings("ignore:Data array contains NaN values:RuntimeWarning")
def test_nonfinite_pixels_fail_or_are_filled_with_median(tmp_path: Path) -> None:
    data = ramp("float32")
    data[3, 4], data[10, 60], data[0, 0] = np.nan, np.inf, -np.inf
    path = write_raw_mrc(tmp_path / "nan.mrc", data)
    expect_error(path, "3 of 3500", "--fill-nonfinite")
    filled = read_micrograph(path, allow_nonfinite=True).data
    finite = np.isfinite(data)
    assert np.isfinite(filled).all()
    assert filled[3, 4] == filled[10, 60] == filled[0, 0] == np.median(data[finite])
    np.testing.assert_array_equal(filled[finite], data[finite])
    all_nan = write_raw_mrc(tmp_path / "allnan.mrc", np.full(SHAPE, np.nan, np.float32))
    expect_error(all_nan, "all pixels", allow_nonfinite=True)


def test_corrupt_files_give_one_clear_error(tmp_path: Path) -> None:
    good = write_raw_mrc(tmp_path / "good.mrc", ramp("float32"))
    cut = tmp_path / "cut.mrc"
    cut.write_bytes(good.read_bytes()[:-1000])
    error = expect_error(cut, "truncated", f"found {good.stat().st_size - 1000}", "re-copy")
    assert f"expected {good.stat().st_size}" in error.problem
    noise = tmp_path / "noise.mrc"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    expect_error(noise, "not an MRC file")
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    expect_error(empty, "empty")
    tiny = tmp_path / "tiny.mrc"
    tiny.write_bytes(b"MAP ")
    expect_error(tiny, "too small")
    odd = tmp_path / "mic.xyz"
    odd.write_bytes(b"x" * 2000)
    expect_error(odd, "unknown micrograph file type", ".mrc")
    expect_error(tmp_path / "missing.mrc", "not found")
    for name in ("bad.tif", "bad.png", "bad.jpg"):
        (tmp_path / name).write_bytes(b"not an image at all" * 10)
        expect_error(tmp_path / name, "not a readable", apix=1.0)
    with pytest.raises(CryopickError, match="cut.mrc"):
        read_micrograph_info(cut)


# ----------------------------------------------------------------------------- TIFF, PNG, JPG


@pytest.mark.parametrize(
    ("kwargs", "apix"),
    [
        ({"resolution": (1e8 / 0.85, 1e8 / 0.85), "resolutionunit": "CENTIMETER"}, 0.85),
        ({"resolution": (2.54e8 / 1.3, 2.54e8 / 1.3), "resolutionunit": "INCH"}, 1.3),
        ({"imagej": True, "resolution": (1 / 1.1e-4, 1 / 1.1e-4), "metadata": {"unit": "micron"}}, 1.1),
        ({"imagej": True, "resolution": (1 / 0.21, 1 / 0.21), "metadata": {"unit": "nm"}}, 2.1),
    ],
)
def test_tiff_pixel_size_from_resolution_tags(tmp_path: Path, kwargs: dict, apix: float) -> None:
    data = ramp("uint16")
    path = tmp_path / "mic.tif"
    tifffile.imwrite(path, data, **kwargs)
    mic = read_micrograph(path)
    assert mic.apix == pytest.approx(apix, rel=1e-4) and mic.shape == SHAPE
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))
    assert read_micrograph_info(path).dtype == "uint16"


def test_tiff_without_pixel_size_print_dpi_stack_and_rgb(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain.tiff"
    tifffile.imwrite(plain, ramp("float32"))
    expect_error(plain, "no pixel size", "--apix")
    assert read_micrograph(plain, apix=0.9).apix == 0.9
    dpi = tmp_path / "dpi.tif"
    tifffile.imwrite(dpi, ramp("uint8"), resolution=(72, 72), resolutionunit="INCH")
    with caplog.at_level(logging.INFO):
        expect_error(dpi, "no pixel size")
    assert "print resolution" in caplog.text
    movie = tmp_path / "movie.tif"
    tifffile.imwrite(movie, np.stack([ramp("uint16")] * 4), photometric="minisblack")
    expect_error(movie, "stack or movie", "motion-corrected", apix=1.0)
    rgb = tmp_path / "rgb.tif"
    tifffile.imwrite(rgb, np.repeat(ramp("uint8")[..., None], 3, axis=2), photometric="rgb")
    np.testing.assert_allclose(read_micrograph(rgb, apix=1.0).data, ramp("uint8"), atol=1e-3)
    planar = tmp_path / "planar.tif"
    tifffile.imwrite(planar, np.stack([ramp("uint8")] * 3), photometric="rgb", planarconfig="separate")
    assert read_micrograph_info(planar, apix=1.0).shape == SHAPE
    np.testing.assert_allclose(read_micrograph(planar, apix=1.0).data, ramp("uint8"), atol=1e-3)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(plain.read_bytes()[:-3000])
    expect_error(cut, "truncated or corrupt", apix=1.0)


def test_png_and_jpg_need_apix(tmp_path: Path) -> None:
    gray8 = ramp("uint8")
    png = tmp_path / "g8.png"
    Image.fromarray(gray8).save(png)
    expect_error(png, "carry no pixel size", "--apix")
    mic = read_micrograph(png, apix=2.5)
    assert mic.apix == 2.5 and mic.shape == SHAPE and mic.data.dtype == np.float32
    np.testing.assert_array_equal(mic.data, gray8)
    gray16 = (ramp("uint16") * 300).astype(np.uint16)
    png16 = tmp_path / "g16.png"
    Image.fromarray(gray16).save(png16)
    np.testing.assert_array_equal(read_micrograph(png16, apix=1.0).data, gray16)
    assert read_micrograph_info(png16, apix=1.0).dtype == "uint16"
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.repeat(gray8[..., None], 3, axis=2)).save(rgb)
    np.testing.assert_array_equal(read_micrograph(rgb, apix=1.0).data, gray8)
    jpg = tmp_path / "g.jpg"
    Image.fromarray(gray8).save(jpg, quality=98)
    expect_error(jpg, "--apix")
    assert np.abs(read_micrograph(jpg, apix=1.0).data - gray8).mean() < 3


@pytest.mark.parametrize("suffix", [".mrc", ".tif", ".png", ".jpg"])
def test_write_image_round_trips(tmp_path: Path, suffix: str) -> None:
    data = np.random.default_rng(2).normal(size=SHAPE)
    path = tmp_path / f"sim{suffix}"
    write_image(path, data, apix=1.7)
    if suffix in (".mrc", ".tif"):
        mic = read_micrograph(path)
        assert mic.apix == pytest.approx(1.7, rel=1e-5)
        np.testing.assert_allclose(mic.data, data.astype(np.float32))
    else:
        mic = read_micrograph(path, apix=1.7)
        scaled = (data - data.min()) / (data.max() - data.min()) * 255
        assert np.abs(mic.data - scaled).mean() < (1 if suffix == ".png" else 4)
    assert mic.shape == SHAPE


def test_write_image_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="out.bmp.*cannot write"):
        write_image(tmp_path / "out.bmp", np.zeros(SHAPE), apix=1.0)
    assert list(tmp_path.iterdir()) == []


def test_mrc_files_carry_no_time_of_day(tmp_path: Path) -> None:
    """mrcfile stamps the time into a new file's label; cryopick's label has none, so the bytes repeat."""
    data = np.arange(12 * 20, dtype=np.float32).reshape(12, 20)
    write_mrc(tmp_path / "a.mrc", data, 1.5)
    with mrcfile.open(tmp_path / "a.mrc") as mrc:
        from cryopick import __version__

        assert mrc.header.nlabl == 1 and mrc.header.label[0].decode() == f"Created by cryopick {__version__}".ljust(80)
    first = (tmp_path / "a.mrc").read_bytes()
    import time

    time.sleep(1.1)  # into the next second: mrcfile's own label would now differ
    write_mrc(tmp_path / "b.mrc", data, 1.5)
    assert (tmp_path / "b.mrc").read_bytes() == first
