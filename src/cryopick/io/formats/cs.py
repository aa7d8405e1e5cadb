"""cryoSPARC ``.cs`` particle datasets.

Layout
------
A ``.cs`` file in cryoSPARC's default format is a NumPy structured array saved with
:func:`numpy.save` (``\\x93NUMPY`` magic): one record per particle, fields named
``<prefix>/<name>``. cryosparc-tools writes it with fixed-width byte strings (``S``) so it
loads with ``allow_pickle=False``; cryopick reads and writes it the same way. The
compressed stream format (``\\x95CSDAT`` magic, ``Dataset.save(..., format=CSDAT_FORMAT)``)
is not read: re-save it in the default format.

Fields used
-----------
``location/center_x_frac``, ``location/center_y_frac``
    Centre as a fraction of the micrograph width and height.
``location/micrograph_shape``
    ``(ny, nx)`` in pixels. ``x = center_x_frac * nx`` and ``y = center_y_frac * ny``;
    rows are counted as :mod:`mrcfile` counts them (cryosparc-tools' own crYOLO example
    writes ``frac * shape`` straight into RELION STAR), so no flip.
``location/micrograph_path``
    The micrograph's name is this path's stem. cryoSPARC prefixes the files it imports
    with the 64-bit uid as a zero-padded 21-digit number
    (``J1/imported/012345678901234567890_mic_0001.mrc``); a leading run of 19 to 22
    digits and an underscore is stripped, so the name is ``mic_0001``.
``pick_stats/ncc_score``
    ``score`` (NaN when absent).
``cryopick/diameter_px``
    ``diameter_px``; cryoSPARC keeps unknown fields and ignores them.

Writing also sets ``uid`` and ``location/micrograph_uid`` (random 64-bit ids, fixed by the
content so output is reproducible), ``location/exp_group_id`` = 1, and
``location/micrograph_psize_A`` when the pixel size is known. It needs every micrograph's
shape (``CoordOptions.shapes``). Fractions and scores are float32 as in cryoSPARC
(coordinates exact to ~1e-3 px); extra columns are not kept.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path
from cryopick.io.formats._common import require_columns, shape_of
from cryopick.io.names import micrograph_name
from cryopick.io.outputs import output_file

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".cs",)
NUMPY_MAGIC = b"\x93NUMPY"
CSDAT_MAGIC = b"\x95CSDAT"
UID_PREFIX = re.compile(r"^\d{19,22}_(?=.)")
REQUIRED: tuple[str, ...] = (
    "location/center_x_frac",
    "location/center_y_frac",
    "location/micrograph_shape",
    "location/micrograph_path",
)
_FIX = "export particles with location/* fields from cryoSPARC (e.g. the particles .cs of a picking job)"


def strip_uid_prefix(name: str) -> str:
    """Drop the ``<21-digit uid>_`` cryoSPARC puts in front of imported file names."""
    return UID_PREFIX.sub("", name, count=1)


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read particle locations from a cryoSPARC ``.cs`` file."""
    data = _load(path)
    fields = data.dtype.names or ()
    require_columns(list(fields), REQUIRED, path, "cryoSPARC dataset", _FIX)
    shape = np.asarray(data["location/micrograph_shape"], dtype=np.float64)
    if shape.shape != (len(data), 2):
        raise CryopickError("location/micrograph_shape is not (ny, nx) per particle", path=path, fix=_FIX)
    if len(data) and not (shape > 0).all():
        raise CryopickError(
            "location/micrograph_shape is 0 for some particles, so fractions cannot become pixels",
            path=path,
            fix=_FIX,
        )
    raw = data["location/micrograph_path"]
    texts = np.char.decode(raw, "utf-8", errors="replace") if raw.dtype.kind == "S" else raw.astype(str)
    names = [strip_uid_prefix(micrograph_name(str(t))) for t in texts]
    n = len(data)
    score = _field(data, "pick_stats/ncc_score", n)
    diameter = _field(data, "cryopick/diameter_px", n)
    return pd.DataFrame(
        {
            "micrograph": pd.Series(names, dtype=object),
            "x": np.asarray(data["location/center_x_frac"], dtype=np.float64) * shape[:, 1],
            "y": np.asarray(data["location/center_y_frac"], dtype=np.float64) * shape[:, 0],
            "score": score,
            "diameter_px": diameter,
        }
    )


def _unique_uids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct random 63-bit particle uids."""
    while True:
        uids = rng.integers(1, 2**63 - 1, size=n, dtype=np.uint64)
        if len(np.unique(uids)) == n:
            return uids


def _field(data: np.ndarray, name: str, n: int) -> np.ndarray:
    if name in (data.dtype.names or ()):
        return np.asarray(data[name], dtype=np.float64).reshape(n)
    return np.full(n, np.nan)


def _load(path: Path) -> np.ndarray:
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise CryopickError(f"cannot read cryoSPARC file ({exc})", path=path, fix=_FIX) from exc
    if magic == CSDAT_MAGIC:
        raise CryopickError(
            "is a compressed cryoSPARC dataset (CSDAT), which cryopick does not read",
            path=path,
            fix="re-save it in the default NumPy format: cryosparc-tools Dataset.load(p).save(p2)",
        )
    if magic != NUMPY_MAGIC:
        raise CryopickError("is not a cryoSPARC .cs file (no NumPy header)", path=path, fix=_FIX)
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise CryopickError(
                "stores text as Python objects, which cryopick does not unpickle for safety",
                path=path,
                fix="re-save it with cryosparc-tools (Dataset.save writes fixed-width strings)",
            ) from exc
        raise CryopickError(f"cannot load cryoSPARC file ({exc})", path=path, fix=_FIX) from exc
    except MemoryError:  # a damaged header can claim any number of particles
        raise CryopickError("its NumPy header claims more particles than memory holds (a damaged file)",
                            path=path, fix=_FIX) from None
    except Exception as exc:  # noqa: BLE001 - a damaged header: SyntaxError, TokenError, EOFError, OSError ...
        raise CryopickError(f"cannot load cryoSPARC file ({type(exc).__name__}: {exc})", path=path, fix=_FIX) from exc
    if data.dtype.names is None or data.ndim != 1:
        raise CryopickError("is a NumPy file but not a cryoSPARC dataset (no named fields)", path=path, fix=_FIX)
    return data


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write picks as a cryoSPARC particle dataset loadable with ``allow_pickle=False``."""
    output_file(path)
    names = picks["micrograph"].astype(str).tolist()
    unique = list(dict.fromkeys(names))
    shapes = {n: shape_of(options.shapes, n, path, "cryoSPARC stores fractions of the size") for n in unique}
    paths = options.micrograph_paths or {}
    mic_paths = {n: paths.get(n, f"{n}{options.micrograph_suffix}").encode("utf-8") for n in unique}
    width = max([len(p) for p in mic_paths.values()] + [1])
    dtype = [
        ("uid", "<u8"),
        ("location/micrograph_uid", "<u8"),
        ("location/exp_group_id", "<u4"),
        ("location/micrograph_path", f"S{width}"),
        ("location/micrograph_shape", "<u4", (2,)),
        ("location/center_x_frac", "<f4"),
        ("location/center_y_frac", "<f4"),
        ("pick_stats/ncc_score", "<f4"),
        ("cryopick/diameter_px", "<f4"),
    ]
    if options.apix is not None:
        dtype.insert(5, ("location/micrograph_psize_A", "<f4"))
    n = len(picks)
    rng = np.random.default_rng(zlib.crc32("\n".join(unique).encode("utf-8")) + n)
    mic_uid = dict(zip(unique, rng.integers(1, 2**63, size=len(unique), dtype=np.uint64), strict=True))
    shape = np.array([shapes[m] for m in names], dtype=np.float64).reshape(n, 2)
    out = np.zeros(n, dtype=dtype)
    out["uid"] = _unique_uids(rng, n)
    out["location/micrograph_uid"] = [mic_uid[m] for m in names]
    out["location/exp_group_id"] = 1
    out["location/micrograph_path"] = [mic_paths[m] for m in names]
    out["location/micrograph_shape"] = shape.astype(np.uint32)
    if options.apix is not None:
        out["location/micrograph_psize_A"] = options.apix
    out["location/center_x_frac"] = picks["x"].to_numpy(dtype=np.float64) / np.maximum(shape[:, 1], 1)
    out["location/center_y_frac"] = picks["y"].to_numpy(dtype=np.float64) / np.maximum(shape[:, 0], 1)
    out["pick_stats/ncc_score"] = picks["score"].to_numpy(dtype=np.float64)
    out["cryopick/diameter_px"] = picks["diameter_px"].to_numpy(dtype=np.float64)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, out, allow_pickle=False)
    return [path]
