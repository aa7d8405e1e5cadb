"""Coordinates from one format to another, checked against the micrographs when they are given.

>>> job = ConvertJob((Path("picks.star"),), Path("boxes"), to_format="box", box_size_px=200)  # doctest: +SKIP
>>> convert_files(job).written                                                    # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cryopick.io.coords import CoordOptions, read_coords, write_picks
from cryopick.io.listing import micrograph_infos
from cryopick.io.picks import check_inside, check_names_match, match_names


@dataclass(frozen=True)
class ConvertJob:
    """What to convert, and how.

    Attributes
    ----------
    inputs
        Coordinate files, or one folder of per-micrograph files.
    output
        The output file, or folder for BOX/CBOX (and RELION's AutoPick layout for STAR).
    to_format, from_format
        Format names (:data:`cryopick.io.coords.FORMATS`); None: from the suffix.
    micrographs
        Files, folders, globs, @lists or STAR files of the micrographs: names and bounds
        are checked, and their shapes serve CS and ``flip_y``. Empty: nothing checked.
    apix
        Pixel size in Å/px, recorded where a format keeps it (else the first header's).
    box_size_px
        Box size for BOX/CBOX; None: each pick's diameter.
    flip_y
        Mirror y (rows counted from the bottom); needs ``micrographs``.
    """

    inputs: tuple[Path, ...]
    output: Path
    to_format: str | None = None
    from_format: str | None = None
    micrographs: tuple[str, ...] = ()
    apix: float | None = None
    box_size_px: float | None = None
    flip_y: bool = False


@dataclass(frozen=True)
class ConvertResult:
    """How many coordinates were converted, and the files written."""

    n_coordinates: int
    written: list[Path]


def convert_files(job: ConvertJob) -> ConvertResult:
    """Read the coordinates, check them against the micrographs if given, and write them in the other format.

    Raises
    ------
    CryopickError
        Unreadable inputs, names matching no micrograph, coordinates outside their
        micrograph, or an output that cannot be written as asked.
    """
    infos = micrograph_infos(job.micrographs, job.apix, require_apix=False) if job.micrographs else []
    shapes = {info.name: info.shape for info in infos} or None
    apix_known = job.apix if job.apix is not None else (infos[0].apix if infos else None)
    if apix_known is not None and not math.isfinite(apix_known):
        apix_known = None
    source = job.inputs[0] if len(job.inputs) == 1 else None
    picks = read_coords(list(job.inputs) if len(job.inputs) > 1 else job.inputs[0], job.from_format,
                        CoordOptions(shapes=shapes))
    if shapes:
        picks = match_names(picks, shapes)
        check_names_match(picks, shapes, source)
        check_inside(picks, shapes, source)
    options = CoordOptions(box_size_px=job.box_size_px, flip_y=job.flip_y, shapes=shapes, apix=apix_known)
    return ConvertResult(len(picks), write_picks(picks, job.output, job.to_format, options))
