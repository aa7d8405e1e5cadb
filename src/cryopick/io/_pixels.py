"""Opening a micrograph file, one function per format: its pixels (lazy), header pixel size and dtype.

:func:`open_pixels` picks the format by suffix and yields ``(pixels, header_apix, dtype)``:
a 2D array-like indexed ``[y, x]`` as the file lays it out (memory-mapped for MRC, decoded
on first use for TIFF and JPG/PNG), the header's pixel size in Å/px or None, and the
on-disk dtype's name. What a parser trips on (a truncated MRC, a movie, a TIFF claiming
gigabytes) is raised as one :class:`~cryopick.errors.CryopickError` naming the file and
the fix; parser warnings and log records are silenced meanwhile. :mod:`cryopick.io.micrographs`
is the public face (reading, checking, writing).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import mrcfile
import numpy as np
import tifffile
from PIL import Image

from cryopick.errors import CryopickError

log = logging.getLogger("cryopick.io.micrographs")

MRC_SUFFIXES = (".mrc", ".mrcs", ".map")
TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".jpg", ".jpeg", ".png")
FIX_MOVIE = "give one motion-corrected micrograph per file (sum or align the movie frames first)"
FIX_CORRUPT = "re-copy or re-export it"
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
def open_pixels(path: Path) -> Iterator[tuple[np.ndarray, float | None, str]]:
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
