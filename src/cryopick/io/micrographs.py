"""Micrographs in and out: MRC, TIFF, JPG/PNG as float32 arrays with a pixel size.

Every reader returns a 2D float32 array indexed ``data[y, x]`` exactly as ``mrcfile``
lays the file out (x = column, y = row), with the pixel size in Å/px taken from the
header unless the caller overrides it. Anything wrong with a file (missing, truncated,
not an image, a movie instead of a micrograph, no pixel size, NaN pixels) is raised as
one :class:`~cryopick.errors.CryopickError` naming the file and the fix.

Memory: MRC files are memory-mapped, so a 4096² uint16 file costs one float32 copy
(64 MiB) plus the page cache, never a second in-memory copy of the raw data.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np
import tifffile
from PIL import Image

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path
from cryopick.io.names import IMAGE_SUFFIXES, micrograph_name

__all__ = [
    "Micrograph",
    "MicrographInfo",
    "read_micrograph",
    "read_micrograph_info",
    "write_image",
    "write_mrc",
]

log = logging.getLogger(__name__)

MRC_SUFFIXES = (".mrc", ".mrcs", ".map")
TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".jpg", ".jpeg", ".png")
FIX_APIX = "pass --apix <Å/px>"
FIX_MOVIE = "give one motion-corrected micrograph per file (sum or align the movie frames first)"
FIX_CORRUPT = "re-copy or re-export it"
FIX_NONFINITE = "re-export the micrograph, or pass --fill-nonfinite to replace them with the median"
# Bytes per pixel for the MRC modes mrcfile reads (0 int8, 1 int16, 2 float32, 3/4 complex,
# 6 uint16, 12 float16); used to tell a truncated file from a corrupt one.
_MRC_MODE_BYTES = {0: 1, 1: 2, 2: 4, 3: 4, 4: 8, 6: 2, 12: 2}
_IMOD_STAMP = 1146047817
# Å per unit for TIFF resolution units (ImageJ "unit" strings and TIFF ResolutionUnit).
_UNIT_A = {
    "a": 1.0, "å": 1.0, "\u212b": 1.0, "angstrom": 1.0, "angstroms": 1.0,
    "nm": 10.0, "nanometer": 10.0, "nanometers": 10.0,
    "um": 1e4, "µm": 1e4, "\u03bcm": 1e4, "micron": 1e4, "microns": 1e4, "micrometer": 1e4,
    "mm": 1e7, "cm": 1e8, "inch": 2.54e8,
}  # fmt: skip
_TIFF_RESUNIT_A = {2: 2.54e8, 3: 1e8, 4: 1e7, 5: 1e4}  # inch, cm, mm, µm
_PLAUSIBLE_APIX = (0.01, 1000.0)  # Å/px; outside this a TIFF resolution is a print DPI
_KNOWN = " ".join(IMAGE_SUFFIXES)


@dataclass(frozen=True)
class MicrographInfo:
    """What the header says, without reading the pixels."""

    name: str  # file stem, see cryopick.io.names.micrograph_name
    path: Path
    shape: tuple[int, int]  # (ny, nx) = (rows, columns)
    apix: float  # Å per pixel (after any override); NaN only with require_apix=False
    dtype: str  # on-disk dtype, e.g. "uint16"


@dataclass(frozen=True)
class Micrograph:
    """A 2D micrograph as float32 with its pixel size."""

    name: str
    path: Path
    data: np.ndarray  # float32, shape (ny, nx); x = column, y = row
    apix: float  # Å per pixel

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.data.shape[0]), int(self.data.shape[1]))


# ----------------------------------------------------------------------------- reading


def read_micrograph_info(
    path: str | Path, apix: float | None = None, *, require_apix: bool = True
) -> MicrographInfo:
    """Read shape, pixel size and dtype from the header only.

    Parameters
    ----------
    path
        An MRC/MRCS/MAP, TIFF, JPG or PNG file.
    apix
        Pixel size in Å/px; overrides the header.
    require_apix
        If False, a missing pixel size gives ``apix = nan`` instead of an error.

    Raises
    ------
    CryopickError
        The file is missing, unreadable, a stack, or has no pixel size (and none given).
    """
    path = _check_path(path, apix)
    with _open_pixels(path) as (pixels, header_apix, dtype):
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
    apix_A = _pick_apix(path, apix, header_apix, require_apix)
    return MicrographInfo(micrograph_name(path), path, shape, apix_A, dtype)


def read_micrograph(
    path: str | Path, apix: float | None = None, *, allow_nonfinite: bool = False
) -> Micrograph:
    """Read a micrograph as float32 with its pixel size (``apix`` overrides the header).

    Parameters
    ----------
    path
        An MRC/MRCS/MAP (2D, or 3D with one section), TIFF (one page), JPG or PNG file.
    apix
        Pixel size in Å/px; required for JPG/PNG and for files whose header has none.
    allow_nonfinite
        Replace NaN/inf pixels by the median of the finite ones instead of failing.

    Returns
    -------
    Micrograph
        ``data`` is a new C-contiguous float32 array of shape (ny, nx).
    """
    path = _check_path(path, apix)
    with _open_pixels(path) as (pixels, header_apix, dtype):
        apix_A = _pick_apix(path, apix, header_apix, True)
        try:
            data = np.array(pixels, dtype=np.float32, order="C")  # one copy: native-endian float32
        except MemoryError:  # a damaged header can claim any size
            ny, nx = (int(n) for n in pixels.shape[:2])
            problem = (f"its header says {nx}x{ny} pixels ({ny * nx * 4 / 2**30:.1f} GiB as float32), "
                       "more than the memory free; the header is corrupt or the micrograph too large")
            raise CryopickError(problem, path=path, fix=f"{FIX_CORRUPT}, or bin it to a smaller size") from None
        except Exception as exc:  # noqa: BLE001 - a read error inside the file's data, whatever the decoder
            problem = f"cannot read the pixels; the file is truncated or corrupt ({type(exc).__name__}: {exc})"
            raise CryopickError(problem, path=path, fix=FIX_CORRUPT) from None
    if data.ndim != 2 or data.size == 0:  # what a damaged header can decode to, in any format
        problem = f"decodes to an array of shape {data.shape}, not a 2D image"
        raise CryopickError(problem, path=path, fix=FIX_CORRUPT)
    if np.dtype(dtype).kind == "f":  # integer pixels are always finite
        _check_finite(path, data, allow_nonfinite)
    return Micrograph(micrograph_name(path), path, data, apix_A)


def _check_finite(path: Path, data: np.ndarray, allow: bool) -> None:
    """Fail on NaN/inf pixels, or (``allow``) replace them in place by the finite median."""
    finite = np.isfinite(data)
    n_bad = data.size - int(np.count_nonzero(finite))
    if n_bad == 0:
        return
    if not allow or n_bad == data.size:
        what = "all" if n_bad == data.size else f"{n_bad} of {data.size}"
        raise CryopickError(f"{what} pixels are NaN or infinite", path=path, fix=FIX_NONFINITE)
    median = np.median(data[finite], overwrite_input=True)
    np.invert(finite, out=finite)
    data[finite] = median
    log.info("%s: replaced %d non-finite pixels by the median %g", path, n_bad, median)


def _check_path(path: str | Path, apix: float | None) -> Path:
    path = Path(path)
    if apix is not None and not (math.isfinite(apix) and apix > 0):
        raise CryopickError(f"pixel size {apix} Å/px is not a positive number", path=path, fix=FIX_APIX)
    if not path.exists():
        raise CryopickError("file not found", path=path, fix="check the path")
    if not path.is_file():
        raise CryopickError("is a folder, not a micrograph file", path=path, fix="give the files in it")
    if path.stat().st_size == 0:
        raise CryopickError("file is empty (0 bytes)", path=path, fix=FIX_CORRUPT)
    if path.suffix.lower() not in MRC_SUFFIXES + TIFF_SUFFIXES + PIL_SUFFIXES:
        raise CryopickError(
            f"unknown micrograph file type {path.suffix or '(no suffix)'!r}",
            path=path,
            fix=f"convert it to MRC or TIFF; known suffixes: {_KNOWN}",
        )
    return path


def _pick_apix(path: Path, apix: float | None, header_apix: float | None, require: bool) -> float:
    if apix is not None:
        return float(apix)
    if header_apix is not None:
        return header_apix
    if not require:
        return math.nan
    if path.suffix.lower() in PIL_SUFFIXES:
        raise CryopickError("JPG/PNG files carry no pixel size", path=path, fix=FIX_APIX)
    raise CryopickError("no pixel size in the header (0 or missing)", path=path, fix=FIX_APIX)


_QUIET = threading.local()


class _DropWhileQuiet(logging.Filter):
    """Drop a parser's log records while this thread reads a micrograph (see _quiet_warnings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "depth", 0)


# tifffile logs what it trips on (bad tags, short strips) as errors; on the command line that
# printed lines of its own around cryopick's one-line error.
logging.getLogger("tifffile").addFilter(_DropWhileQuiet())


@contextlib.contextmanager
def _quiet_warnings() -> Iterator[None]:
    """Silence parser warnings and log records: problems they flag are checked and raised as CryopickError."""
    _QUIET.depth = getattr(_QUIET, "depth", 0) + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        _QUIET.depth -= 1


@contextlib.contextmanager
def _open_pixels(path: Path) -> Iterator[tuple[np.ndarray, float | None, str]]:
    """Yield (lazy 2D pixel array, header pixel size or None, on-disk dtype name)."""
    suffix = path.suffix.lower()
    opener = _open_mrc if suffix in MRC_SUFFIXES else _open_tiff if suffix in TIFF_SUFFIXES else _open_pil
    with opener(path) as opened:
        yield opened


@contextlib.contextmanager
def _open_mrc(path: Path) -> Iterator[tuple[np.ndarray, float | None, str]]:
    size = path.stat().st_size
    if size < 1024:
        problem = f"too small to be an MRC file ({size} bytes; its header alone is 1024)"
        raise CryopickError(problem, path=path, fix=FIX_CORRUPT)
    with _quiet_warnings():  # permissive mode warns instead of failing; we check ourselves
        try:
            mrc = mrcfile.mmap(path, mode="r", permissive=True)
        except Exception as exc:  # noqa: BLE001 - mrcfile raises many types for bad files
            raise _mrc_problem(path, size, str(exc)) from None
    try:
        data = mrc.data
        if data is None:
            raise _mrc_problem(path, size, "data block unreadable")
        mode = int(mrc.header.mode)
        if mode in (3, 4):
            problem = f"holds complex data (MRC mode {mode}), not an image"
            raise CryopickError(problem, path=path, fix="give a real-space micrograph")
        if data.size == 0:  # before the stack check: a zeroed header is not a movie of shape (0, 0, 0)
            problem = f"image has no pixels (shape {tuple(data.shape)})"
            raise CryopickError(problem, path=path, fix=FIX_CORRUPT)
        if data.ndim == 3 and data.shape[0] == 1:
            data = data[0]
        if data.ndim != 2:
            problem = f"is a stack or movie of shape {tuple(data.shape)}, not one micrograph"
            raise CryopickError(problem, path=path, fix=FIX_MOVIE)
        if mode == 0 and _imod_unsigned_bytes(mrc.header):
            data = data.view(np.uint8)
        yield data, _mrc_apix(path, mrc), np.dtype(data.dtype).name
    finally:
        mrc.close()


def _imod_unsigned_bytes(header: np.recarray) -> bool:
    """IMOD writes mode 0 as unsigned bytes unless bit 0 of imodFlags says signed."""
    extra2 = bytes(header.extra2)  # imodStamp and imodFlags are bytes 152-160 of the header
    order = "<" if header.mode.dtype.byteorder in "<=|" else ">"
    stamp, flags = np.frombuffer(extra2[40:48], dtype=f"{order}i4")
    return int(stamp) == _IMOD_STAMP and not int(flags) & 1


def _mrc_apix(path: Path, mrc: mrcfile.mrcfile.MrcFile) -> float | None:
    header = mrc.header
    with np.errstate(divide="ignore", invalid="ignore"):
        x = float(header.cella.x) / float(header.mx) if header.mx > 0 else math.nan
        y = float(header.cella.y) / float(header.my) if header.my > 0 else math.nan
    if not (math.isfinite(x) and x > 0):
        return None
    if math.isfinite(y) and y > 0 and not 0.5 < x / y < 2.0:
        log.warning("%s: pixel size differs between x (%g Å) and y (%g Å); using x", path, x, y)
    return x


def _mrc_problem(path: Path, size: int, detail: str) -> CryopickError:
    """Tell a truncated MRC from one that is not an MRC at all, from its raw header."""
    with open(path, "rb") as handle:
        raw = handle.read(1024)
    for order in ("<", ">"):
        nx, ny, nz, mode = (int(v) for v in np.frombuffer(raw[:16], dtype=f"{order}i4"))
        nsymbt = int(np.frombuffer(raw[92:96], dtype=f"{order}i4")[0])
        if mode in _MRC_MODE_BYTES and min(nx, ny, nz) > 0 and nsymbt >= 0:
            expected = 1024 + nsymbt + nx * ny * nz * _MRC_MODE_BYTES[mode]
            if size < expected:
                problem = (
                    f"file is truncated: expected {expected} bytes "
                    f"({nx}x{ny}x{nz} pixels, MRC mode {mode}), found {size}"
                )
                return CryopickError(problem, path=path, fix=FIX_CORRUPT)
    has_id = raw[208:212] == b"MAP "
    nx, ny, nz, mode = (int(v) for v in np.frombuffer(raw[:16], dtype="<i4"))
    if has_id and min(nx, ny, nz) > 0 and mode not in _MRC_MODE_BYTES:
        problem = f"unsupported MRC mode {mode} (cryopick reads modes 0, 1, 2, 6 and 12)"
        return CryopickError(problem, path=path, fix="convert it to 32-bit float MRC (mode 2)")
    what = "MRC header is corrupt" if has_id else "not an MRC file (no 'MAP ' identifier, no valid header)"
    return CryopickError(f"{what} ({detail})", path=path, fix=f"check it is an MRC micrograph; {FIX_CORRUPT}")


@contextlib.contextmanager
def _open_tiff(path: Path) -> Iterator[tuple[np.ndarray, float | None, str]]:
    try:
        with _quiet_warnings(), tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            page = tif.pages.first
            shape = (int(page.imagelength), int(page.imagewidth))
            if min(shape) <= 0:  # a damaged or missing ImageWidth/ImageLength tag
                problem = f"image has no pixels ({shape[1]}x{shape[0]} in the header)"
                raise CryopickError(problem, path=path, fix=FIX_CORRUPT)
            if n_pages > 1 or page.imagedepth > 1:
                problem = f"is a stack or movie ({n_pages} pages of {shape[1]}x{shape[0]}), not a micrograph"
                raise CryopickError(problem, path=path, fix=FIX_MOVIE)
            _check_tiff_size(path, page)
            apix = _tiff_apix(path, page, tif.imagej_metadata)
            yield _LazyTiff(page, shape), apix, np.dtype(page.dtype).name
    except (CryopickError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - tifffile raises many types for bad files
        raise CryopickError(f"not a readable TIFF file ({exc})", path=path, fix=FIX_CORRUPT) from None


def _check_tiff_size(path: Path, page: tifffile.TiffPage) -> None:
    """An uncompressed page cannot hold more pixels than the file has bytes (a damaged header).

    Checked before decoding: tifffile allocates what the header claims, and a flipped bit in
    the image length can claim tens of GiB.
    """
    if int(page.compression) != 1:  # compressed pixels can be fewer bytes than the image
        return
    bits = int(page.imagelength) * int(page.imagewidth) * int(page.imagedepth)
    bits *= int(page.samplesperpixel) * int(page.bitspersample)
    size = path.stat().st_size
    if bits // 8 > size:
        problem = (f"file is truncated or corrupt: its header says {page.imagewidth}x{page.imagelength} "
                   f"uncompressed pixels, which need {bits // 8} bytes; the file has {size}")
        raise CryopickError(problem, path=path, fix=FIX_CORRUPT)


class _LazyTiff:
    """A TIFF page that decodes (and turns RGB to gray) only when converted to an array."""

    def __init__(self, page: tifffile.TiffPage, shape: tuple[int, int]):
        self.page, self.shape = page, shape

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        data = self.page.asarray()
        if data.ndim == 3:  # several samples per pixel, planes first or last
            data = np.moveaxis(data, 0, -1) if data.shape[:2] != self.shape else data
            if data.shape[-1] >= 3:  # RGB(A): luminance of the colour channels
                data = data[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            else:  # gray + alpha
                data = data[..., 0]
        return data if dtype is None else data.astype(dtype, copy=False)


def _tiff_apix(path: Path, page: tifffile.TiffPage, imagej: dict | None) -> float | None:
    """Å/px from XResolution (pixels per unit) and ImageJ ``unit`` or ResolutionUnit."""
    tag = page.tags.get("XResolution")
    if tag is None:
        return None
    num, den = tag.value if isinstance(tag.value, tuple) else (tag.value, 1)
    if not (num > 0 and den > 0):
        return None
    per_unit = float(num) / float(den)  # pixels per unit
    unit_tag = page.tags.get("ResolutionUnit")
    unit_A = _TIFF_RESUNIT_A.get(int(unit_tag.value) if unit_tag is not None else 2)  # TIFF default: inch
    ij_unit = str((imagej or {}).get("unit", "")).strip().lower()
    if ij_unit in _UNIT_A:
        unit_A = _UNIT_A[ij_unit]
    if unit_A is None:
        return None
    apix = unit_A / per_unit
    lo, hi = _PLAUSIBLE_APIX
    if not lo <= apix <= hi:
        log.info("%s: TIFF resolution gives %g Å/px, a print resolution, not a pixel size", path, apix)
        return None
    return apix


@contextlib.contextmanager
def _open_pil(path: Path) -> Iterator[tuple[np.ndarray, float | None, str]]:
    try:
        with _quiet_warnings(), Image.open(path) as img:  # e.g. DecompressionBombWarning
            if getattr(img, "n_frames", 1) > 1:
                raise CryopickError(f"has {img.n_frames} frames, not one image", path=path, fix=FIX_MOVIE)
            dtype = {"I": "int32", "F": "float32"}.get(img.mode, "uint8")
            dtype = "uint16" if img.mode.startswith("I;16") else dtype
            yield _LazyPil(path, img), None, dtype
    except (CryopickError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise CryopickError(f"not a readable image ({exc})", path=path, fix=FIX_CORRUPT) from None


class _LazyPil:
    """A Pillow image that decodes to grayscale only when converted to an array."""

    def __init__(self, path: Path, img: Image.Image):
        self.path, self.img = path, img
        self.shape = (img.size[1], img.size[0])

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        img = self.img
        if img.mode not in ("L", "I", "F") and not img.mode.startswith("I;16"):
            img = img.convert("L")  # colour, palette, alpha: to 8-bit luminance
        data = np.asarray(img)
        return data if dtype is None else data.astype(dtype, copy=False)


# ----------------------------------------------------------------------------- writing


def write_mrc(path: str | Path, data: np.ndarray, apix: float) -> None:
    """Write a 2D float32 MRC that keeps the pixel size, atomically.

    The file is written beside ``path``, its header is checked by reading it back, and
    only then is it renamed into place.
    """
    path = Path(path)
    array = _check_writable(path, data, apix)
    with atomic_path(path) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(array)
            mrc.voxel_size = float(apix)
        with mrcfile.mmap(tmp, mode="r") as back:  # validates header and data size
            ok = back.data.shape == array.shape and math.isclose(float(back.voxel_size.x), apix, rel_tol=1e-5)
        if not ok:
            raise CryopickError("written MRC does not read back as written", path=path, fix="check the disk")


def write_image(path: str | Path, data: np.ndarray, apix: float) -> None:
    """Write a 2D image by suffix: MRC (float32), TIFF (float32 + resolution tags), PNG/JPG (8-bit).

    PNG/JPG are scaled linearly from the data's min..max to 0..255 and carry no pixel size.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in MRC_SUFFIXES:
        write_mrc(path, data, apix)
        return
    if suffix not in TIFF_SUFFIXES + PIL_SUFFIXES:
        fix = "use .mrc, .tif, .png or .jpg"
        raise CryopickError(f"cannot write images of type {suffix!r}", path=path, fix=fix)
    array = _check_writable(path, data, apix)
    with atomic_path(path) as tmp:
        if suffix in TIFF_SUFFIXES:
            per_cm = 1e8 / float(apix)
            tifffile.imwrite(tmp, array, resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
        else:
            lo, hi = float(array.min()), float(array.max())
            scaled = (array - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
            img = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
            img.save(tmp, format="PNG" if suffix == ".png" else "JPEG", quality=95)


def _check_writable(path: Path, data: np.ndarray, apix: float) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 2 or array.size == 0:
        raise CryopickError(f"can only write a non-empty 2D image, got shape {array.shape}", path=path)
    if not (math.isfinite(apix) and apix > 0):
        raise CryopickError(f"pixel size {apix} Å/px is not a positive number", path=path, fix=FIX_APIX)
    return np.ascontiguousarray(array, dtype=np.float32)
