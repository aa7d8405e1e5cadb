"""3D particle coordinates in the files tomography uses: RELION 5 STAR, Dynamo ``.tbl``, CSV/TSV.

Inside cryopick a 3D table has ``tomogram, x, y, z, score, diameter_px`` (and, for the
simulator's truth, ``kind``): x, y, z are the column, row and section of the tomogram
array as ``mrcfile`` reads it, in its voxels. Each format converts at the boundary:

=========  ==========================================================================
format     what is written and read
=========  ==========================================================================
``.star``  RELION 5: ``data_particles`` with ``rlnTomoName``, ``rlnCoordinateX/Y/Z``
           (voxels) and, when the shapes and voxel size are known, the centred form
           ``rlnCenteredCoordinateX/Y/ZAngst`` = (voxel − n/2) × voxel size, as RELION
           5 writes it; either form is read (the centred one needs the tomograms).
           ``rlnAutopickFigureOfMerit`` carries the score.
``.tbl``   Dynamo: one row a particle, 35 columns; column 20 is the tomogram's number
           (1-based, in the order the tomograms are given), 24-26 the position
           (1-based, as MATLAB counts) plus the shifts in 4-6, 10 the score (cc).
``.csv``   ``tomogram,x,y,z,score,diameter_px`` with a header; ``.tsv``/``.txt`` the
           same with tabs.
=========  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic

COLUMNS = ("tomogram", "x", "y", "z", "score", "diameter_px")
DYNAMO_COLUMNS = 35
Shapes = Mapping[str, tuple[int, int, int]]


def make_picks3d(tomogram: str | Sequence[str], x, y, z, score=np.nan, diameter_px=np.nan) -> pd.DataFrame:
    """A 3D table from arrays (scalars broadcast)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return pd.DataFrame({
        "tomogram": np.broadcast_to(np.asarray(tomogram, dtype=object), x.shape).tolist(),
        "x": x, "y": np.broadcast_to(np.asarray(y, dtype=np.float64), x.shape).copy(),
        "z": np.broadcast_to(np.asarray(z, dtype=np.float64), x.shape).copy(),
        "score": np.broadcast_to(np.asarray(score, dtype=np.float64), x.shape).copy(),
        "diameter_px": np.broadcast_to(np.asarray(diameter_px, dtype=np.float64), x.shape).copy(),
    })


def checked(table: pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """``table`` with the standard columns and dtypes; missing or non-numeric positions are an error."""
    missing = [c for c in ("tomogram", "x", "y", "z") if c not in table.columns]
    if missing:
        raise CryopickError(f"3D coordinates lack column(s) {', '.join(missing)}", path=source,
                            fix="give tomogram, x, y and z")
    out = table.copy()
    for column in ("score", "diameter_px"):
        if column not in out.columns:
            out[column] = np.nan
    out["tomogram"] = out["tomogram"].astype(str)
    for column in ("x", "y", "z", "score", "diameter_px"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(np.float64)
    bad = ~np.isfinite(out[["x", "y", "z"]].to_numpy()).all(axis=1)
    if bad.any():
        raise CryopickError(f"{int(bad.sum())} coordinate(s) are missing or not numbers", path=source,
                            fix="remove or correct those rows")
    extra = [c for c in out.columns if c not in COLUMNS]
    return out[list(COLUMNS) + extra].reset_index(drop=True)


def _format(path: Path, fmt: str | None) -> str:
    kind = (fmt or path.suffix.lstrip(".")).lower()
    kind = {"txt": "tsv"}.get(kind, kind)
    if kind not in ("star", "tbl", "csv", "tsv"):
        raise CryopickError(f"cannot tell the 3D coordinate format of {path.name}", path=path,
                            fix="use .star (RELION 5), .tbl (Dynamo), .csv or .tsv, or pass the format")
    return kind


def read_picks3d(path: str | Path, fmt: str | None = None, *, shapes: Shapes | None = None,
                 apix: float | None = None, names: Sequence[str] = ()) -> pd.DataFrame:
    """Read 3D coordinates (see the module docstring); ``names`` number Dynamo's tomograms."""
    path = Path(path)
    if not path.is_file():
        raise CryopickError("does not exist", path=path, fix="check the path")
    kind = _format(path, fmt)
    try:
        if kind == "star":
            table = _read_star(path, shapes, apix)
        elif kind == "tbl":
            table = _read_tbl(path, names)
        else:
            table = pd.read_csv(path, sep="," if kind == "csv" else "\t", dtype={"tomogram": str})
    except CryopickError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas/starfile raise many kinds on malformed files
        raise CryopickError(f"cannot parse it ({type(exc).__name__}: {exc})", path=path,
                            fix="give a RELION 5 STAR, Dynamo .tbl or CSV/TSV of tomogram, x, y, z") from None
    if table.empty:
        raise CryopickError("has no coordinates", path=path, fix="check it is the right file")
    return checked(table, path)


def _read_star(path: Path, shapes: Shapes | None, apix: float | None) -> pd.DataFrame:
    from cryopick.io.formats.star import read_star

    blocks = read_star(path, always_dict=True)
    table = next((b for b in blocks.values() if isinstance(b, pd.DataFrame) and "rlnTomoName" in b.columns), None)
    if table is None:
        raise CryopickError("has no block with rlnTomoName", path=path, fix="give a RELION 5 tomography STAR file")
    out = pd.DataFrame({"tomogram": table["rlnTomoName"].astype(str)})
    if all(f"rlnCoordinate{a}" in table.columns for a in "XYZ"):
        for a in "XYZ":
            out[a.lower()] = table[f"rlnCoordinate{a}"].astype(np.float64)
    elif all(f"rlnCenteredCoordinate{a}Angst" in table.columns for a in "XYZ"):
        if shapes is None or apix is None:
            raise CryopickError("holds centred coordinates in Å, which need the tomograms' sizes and voxel size",
                                path=path, fix="give the tomograms too (and --apix if their headers have none)")
        for axis, a in zip((2, 1, 0), "XYZ"):
            size = out["tomogram"].map(lambda n, ax=axis: _shape(shapes, n, path)[ax]).to_numpy(np.float64)
            out[a.lower()] = table[f"rlnCenteredCoordinate{a}Angst"].to_numpy(np.float64) / apix + size / 2.0
    else:
        raise CryopickError("has no rlnCoordinateX/Y/Z or rlnCenteredCoordinateX/Y/ZAngst", path=path,
                            fix="give a RELION 5 tomography STAR file")
    if "rlnAutopickFigureOfMerit" in table.columns:
        out["score"] = table["rlnAutopickFigureOfMerit"].astype(np.float64)
    if "cryopickDiameterPx" in table.columns:
        out["diameter_px"] = table["cryopickDiameterPx"].astype(np.float64)
    return out


def _shape(shapes: Shapes, name: str, path: Path) -> tuple[int, int, int]:
    if name not in shapes:
        raise CryopickError(f"names tomogram {name}, which is not among those given", path=path,
                            fix="give that tomogram too (names match by file stem)")
    return shapes[name]


def _read_tbl(path: Path, names: Sequence[str]) -> pd.DataFrame:
    values = np.loadtxt(path, ndmin=2)
    if values.shape[1] < 26:
        raise CryopickError(f"has {values.shape[1]} columns; a Dynamo table has at least 26", path=path,
                            fix="give a Dynamo .tbl (positions in columns 24-26)")
    numbers = values[:, 19].astype(int)
    if names and (numbers.min() < 1 or numbers.max() > len(names)):
        raise CryopickError(f"numbers tomograms up to {numbers.max()}, but {len(names)} were given", path=path,
                            fix="give the tomograms in the order the table numbers them")
    tomograms = [names[n - 1] if names else f"tomo_{n}" for n in numbers]
    return pd.DataFrame({"tomogram": tomograms, "x": values[:, 23] + values[:, 3] - 1.0,
                         "y": values[:, 24] + values[:, 4] - 1.0, "z": values[:, 25] + values[:, 5] - 1.0,
                         "score": values[:, 9]})


def write_picks3d(table: pd.DataFrame, path: str | Path, fmt: str | None = None, *, shapes: Shapes | None = None,
                  apix: float | None = None, names: Sequence[str] = ()) -> Path:
    """Write 3D coordinates atomically (see the module docstring); ``names`` number Dynamo's tomograms."""
    path = Path(path)
    table = checked(table, path)
    kind = _format(path, fmt)
    if kind == "star":
        text = _star_text(table, shapes, apix, path)
    elif kind == "tbl":
        text = _tbl_text(table, list(names) or sorted(table["tomogram"].unique()), path)
    else:
        text = table.to_csv(sep="," if kind == "csv" else "\t", index=False, float_format="%.6f")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path


def _star_text(table: pd.DataFrame, shapes: Shapes | None, apix: float | None, path: Path) -> str:
    from cryopick.io.formats.star import star_text, star_value

    block = pd.DataFrame({"rlnTomoName": [star_value(n, path) for n in table["tomogram"]]})
    for a in "xyz":
        block[f"rlnCoordinate{a.upper()}"] = [f"{v:.6f}" for v in table[a]]
    if shapes is not None and apix is not None and set(table["tomogram"]) <= set(shapes):
        for axis, a in zip((2, 1, 0), "xyz"):
            size = table["tomogram"].map(lambda n, ax=axis: shapes[n][ax]).to_numpy(np.float64)
            block[f"rlnCenteredCoordinate{a.upper()}Angst"] = [
                f"{v:.3f}" for v in (table[a].to_numpy() - size / 2.0) * apix]
    block["rlnAutopickFigureOfMerit"] = [f"{v:.9g}" if np.isfinite(v) else "-999" for v in table["score"]]
    if np.isfinite(table["diameter_px"]).any():
        block["cryopickDiameterPx"] = [f"{v:.6g}" for v in table["diameter_px"]]
    return star_text({"particles": block})


def _tbl_text(table: pd.DataFrame, names: list[str], path: Path) -> str:
    number = {n: i + 1 for i, n in enumerate(names)}
    unknown = sorted(set(table["tomogram"]) - set(number))
    if unknown:
        raise CryopickError(f"tomogram {unknown[0]} is not among those to number", path=path,
                            fix="give every tomogram the picks name")
    rows = np.zeros((len(table), DYNAMO_COLUMNS))
    rows[:, 0] = np.arange(1, len(table) + 1)
    rows[:, 1] = rows[:, 2] = 1
    rows[:, 9] = np.nan_to_num(table["score"].to_numpy(), nan=0.0)
    rows[:, 19] = table["tomogram"].map(number).to_numpy()
    rows[:, 21] = 1
    rows[:, 23:26] = table[["x", "y", "z"]].to_numpy() + 1.0
    lines = [" ".join("%d" % v if float(v).is_integer() and i not in (9, 23, 24, 25) else "%.6f" % v
                      for i, v in enumerate(row)) for row in rows]
    return "\n".join(lines) + "\n"
