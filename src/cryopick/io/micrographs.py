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

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np
import tifffile
from PIL import Image

from cryopick.errors import CryopickError
from cryopick.io._pixels import FIX_CORRUPT, MRC_SUFFIXES, PIL_SUFFIXES, TIFF_SUFFIXES, open_pixels
from cryopick.io.atomic import atomic_path
from cryopick.io.names import IMAGE_SUFFIXES, micrograph_name

__all__ = [
    "Micrograph",
    "MicrographInfo",
    "diameter_A_to_px",
    "label_without_time",
    "read_micrograph",
    "read_micrograph_info",
    "write_image",
    "write_mrc",
]

log = logging.getLogger(__name__)

FIX_APIX = "pass --apix <Å/px>"
FIX_NONFINITE = "re-export the micrograph, or pass --fill-nonfinite to replace them with the median"
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
    with open_pixels(path) as (pixels, header_apix, dtype):
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
    apix_A = _pick_apix(path, apix, header_apix, require_apix)
    return MicrographInfo(micrograph_name(path), path, shape, apix_A, dtype)


def diameter_A_to_px(diameter_A: float | None, apix: float | None, micrographs: Sequence[Path]) -> float | None:
    """A particle diameter in Å as pixels: by ``apix``, else by the first micrograph's header.

    Returns None without a diameter; a :class:`~cryopick.errors.CryopickError` when the
    pixel size is known from neither.
    """
    if diameter_A is None:
        return None
    pixel = apix if apix is not None else (
        read_micrograph_info(micrographs[0], None, require_apix=False).apix if micrographs else math.nan)
    if not math.isfinite(pixel):
        raise CryopickError("--diameter is in Å but the pixel size is unknown",
                            path=micrographs[0] if micrographs else None,
                            fix="pass --apix, or micrographs whose headers give it")
    return diameter_A / pixel


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
    with open_pixels(path) as (pixels, header_apix, dtype):
        apix_A = _pick_apix(path, apix, header_apix, True)
        try:
            # a damaged header can claim any size; Linux would rather kill the process than raise
            # MemoryError, so what cannot fit is told before it is read
            _check_fits_memory(int(np.prod(pixels.shape, dtype=np.int64)) * 4)
            data = np.array(pixels, dtype=np.float32, order="C")  # one copy: native-endian float32
        except MemoryError:
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


def available_memory_bytes() -> int | None:
    """Memory the system can give without swapping (``MemAvailable``, Linux), else the free pages; None: unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _check_fits_memory(n_bytes: int) -> None:
    """Raise MemoryError when ``n_bytes`` are more than the memory available."""
    available = available_memory_bytes()
    if available is not None and n_bytes > available:
        raise MemoryError(n_bytes)


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


def label_without_time(header: np.recarray) -> None:
    """Set an MRC header's one label to the writer's name and version, without mrcfile's time stamp.

    mrcfile labels a new file "Created by mrcfile.py" with the time of day, so the same
    data written a second later gave other bytes; cryopick's outputs are the same every time.
    """
    from cryopick import __version__

    header.label[0] = f"Created by cryopick {__version__}".ljust(80).encode("ascii")
    header.nlabl = 1


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
            label_without_time(mrc.header)
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
