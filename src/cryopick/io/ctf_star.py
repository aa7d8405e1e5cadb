"""CTF parameters per micrograph, read from a RELION micrographs STAR file.

RELION's CtfFind job writes ``micrographs_ctf.star``: a ``data_optics`` block (voltage,
spherical aberration, amplitude contrast per optics group) and a ``data_micrographs``
block with one row per micrograph, ``rlnMicrographName`` and its fitted CTF
(``rlnDefocusU``, ``rlnDefocusV`` in Å, ``rlnDefocusAngle`` in degrees, and optionally
B-factor, scale factor, phase shift, fit resolution and figure of merit).
:func:`read_ctf_star` reads it into a :class:`CtfTable` keyed by micrograph name (file
stem, :func:`cryopick.io.names.micrograph_name`), so ``cryopick extract`` can give every
particle its micrograph's CTF, which RELION's 2D classification with CTF correction needs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.formats.star import read_star
from cryopick.io.names import micrograph_name

REQUIRED_COLUMNS = ("rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle")
"""What RELION needs of a particle's CTF."""

OPTIONAL_COLUMNS = ("rlnCtfBfactor", "rlnCtfScalefactor", "rlnPhaseShift", "rlnCtfMaxResolution",
                    "rlnCtfFigureOfMerit", "rlnCtfAstigmatism")
"""Carried over when the file has them."""

OPTICS_COLUMNS = {"rlnVoltage": "voltage_kv", "rlnSphericalAberration": "cs_mm",
                  "rlnAmplitudeContrast": "amplitude_contrast"}
"""Optics labels and the :class:`~cryopick.extract.boxes.ExtractConfig` fields they fill."""

FIX = "give RELION's CtfFind output (CtfFind/jobNNN/micrographs_ctf.star)"


@dataclass(frozen=True)
class CtfTable:
    """The CTF of each micrograph, and the microscope's optics when the file says.

    Attributes
    ----------
    path
        The STAR file read.
    per_micrograph
        Indexed by micrograph name; the columns of :data:`REQUIRED_COLUMNS` and those of
        :data:`OPTIONAL_COLUMNS` the file has, as floats.
    optics
        ``voltage_kv``, ``cs_mm``, ``amplitude_contrast`` where the optics block (in RELION
        3.0 files, the micrographs' rows) gives one value for all; those it lacks are left out.
    """

    path: Path
    per_micrograph: pd.DataFrame
    optics: dict[str, float]

    @property
    def columns(self) -> list[str]:
        return list(self.per_micrograph.columns)

    def missing(self, names: list[str]) -> list[str]:
        """The names among ``names`` with no CTF row."""
        return [name for name in names if name not in self.per_micrograph.index]


def ctf_of_micrographs_star(path: Path) -> CtfTable | None:
    """The CTF table of ``path`` if it is a STAR file whose micrographs carry a fitted CTF, else None.

    For a micrographs argument that may or may not be CtfFind's output: a file without
    the defocus columns, or not a readable STAR file, is None (its listing reports what is
    wrong with it); one with them is read and checked as :func:`read_ctf_star` does.
    """
    if path.suffix.lower() != ".star" or not path.is_file():
        return None
    try:
        blocks = _blocks(path)
        table = _micrographs_block(blocks, path)
    except CryopickError:
        return None
    return None if table is None else _ctf_table(blocks, table, path)


def read_ctf_star(path: str | Path) -> CtfTable:
    """Read a micrographs STAR file with CTF parameters.

    Raises
    ------
    CryopickError
        The file is missing or unreadable, has no block with ``rlnMicrographName`` and
        the defocus columns, has a non-number or negative defocus, gives one micrograph
        two different CTFs, or its optics groups disagree on voltage, Cs or amplitude
        contrast.
    """
    path = Path(path)
    if not path.is_file():
        raise CryopickError("is a folder, not a CTF file" if path.is_dir() else "CTF file not found", path=path, fix=FIX)
    blocks = _blocks(path)
    table = _micrographs_block(blocks, path)
    if table is None:
        raise CryopickError(f"no block has rlnMicrographName and {', '.join(REQUIRED_COLUMNS)}", path=path, fix=FIX)
    return _ctf_table(blocks, table, path)


def _ctf_table(blocks: dict, table: pd.DataFrame, path: Path) -> CtfTable:
    """The checked per-micrograph CTF of the micrographs ``table`` of a parsed file."""
    columns = list(REQUIRED_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in table.columns]
    values = table[columns].apply(pd.to_numeric, errors="coerce").astype(float)
    names = [micrograph_name(str(entry)) for entry in table["rlnMicrographName"]]
    for row, name in enumerate(names):
        bad = [c for c in columns if not math.isfinite(values.iloc[row][c])]
        if bad:
            raise CryopickError(f"micrograph {name} (row {row + 1}) has no number for {', '.join(bad)}",
                                path=path, fix="re-run CTF estimation for it, or leave it out of the file")
        if min(values.iloc[row]["rlnDefocusU"], values.iloc[row]["rlnDefocusV"]) < 0:
            raise CryopickError(f"micrograph {name} (row {row + 1}) has a negative defocus", path=path,
                                fix="RELION's defocus is positive for underfocus, in Å; check the file")
    values.index = pd.Index(names, name="micrograph")
    twice = values.index[values.index.duplicated()].unique()
    for name in twice:
        if len(values.loc[[name]].drop_duplicates()) > 1:
            raise CryopickError(f"micrograph {name} is listed twice with different CTFs", path=path,
                                fix="keep one row per micrograph")
    values = values[~values.index.duplicated()]
    return CtfTable(path, values, _optics(blocks, table, path))


def _blocks(path: Path) -> dict:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_star(path, always_dict=True)
    except Exception as exc:  # noqa: BLE001 - the parser raises many types
        raise CryopickError(f"not a readable STAR file ({type(exc).__name__})", path=path, fix=FIX) from None


def _micrographs_block(blocks: dict, path: Path) -> pd.DataFrame | None:
    for table in blocks.values():
        if isinstance(table, pd.DataFrame) and "rlnMicrographName" in table and all(
                c in table for c in REQUIRED_COLUMNS):
            if table.empty:
                raise CryopickError("the CTF file lists no micrographs", path=path, fix=FIX)
            return table
    return None


def _optics(blocks: dict, micrographs: pd.DataFrame, path: Path) -> dict[str, float]:
    """The optics block's voltage, Cs and amplitude contrast; RELION 3.0 files have them per micrograph."""
    table = blocks.get("optics")
    if not isinstance(table, pd.DataFrame):
        table = micrographs
    optics: dict[str, float] = {}
    for label, field in OPTICS_COLUMNS.items():
        if label not in table:
            continue
        values = pd.to_numeric(table[label], errors="coerce").dropna().unique()
        if len(values) > 1:
            flag = {"voltage_kv": "--voltage", "cs_mm": "--cs", "amplitude_contrast": "--amplitude-contrast"}[field]
            raise CryopickError(f"the file gives different {label} ({', '.join(f'{v:g}' for v in values)})",
                                path=path, fix=f"extract each optics group's micrographs apart, with {flag}")
        if len(values):
            optics[field] = float(values[0])
    return optics
