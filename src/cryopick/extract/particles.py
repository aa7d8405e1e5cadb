"""Particle extraction: boxes around picks, written as MRC stacks and a RELION 3.1 STAR file.

What a box is
    The box of a pick at ``(x, y)`` (x = column, y = row, original micrograph pixels) is
    centred on the nearest whole pixel ``cx = floor(x + 0.5)``, ``cy = floor(y + 0.5)``
    (RELION's ``ROUND``) and covers columns ``cx - box/2 .. cx + box/2 - 1`` and the same
    rows, so the pick sits at index ``box/2`` of the box, the centre RELION (and an FFT)
    uses for an even box. The STAR file keeps the picks' own coordinates: RELION reads
    ``rlnCoordinateX/Y`` as the column and row of the micrograph counted from 0, exactly
    cryopick's convention (see :mod:`cryopick.io.formats.star`; no offset, no flip).

What is done to it, in RELION's order (``relion_preprocess``)
    1. **Rescale** (optional): Fourier cropping (:func:`cryopick.preprocess.fourier_crop`) to
       ``rescale_px``; the pixel size grows by ``box_size_px / rescale_px``, the centre stays at ``rescale_px / 2``.
    2. **Normalise**: subtract the plane fitted to the background, the pixels farther
       than ``background_radius_px`` from the centre (default 75% of half the rescaled
       box, RELION's default), then subtract the background's mean and divide by its
       standard deviation (population, ``ddof=0``), so the background has mean 0 and
       standard deviation 1; ``ramp=False`` skips the plane (``relion_preprocess --no_ramp``).
    3. **Invert contrast** (default on): particles dark in cryo-EM micrographs become
       white, as RELION expects ("Invert contrast: Yes").

Edges
    A box that crosses the micrograph edge is dropped and counted (``edge="skip"``,
    default) or filled by mirroring the micrograph about its edge (``edge="pad"``; the
    edge pixel is repeated, ``... b a | a b ...``: numpy ``"symmetric"``, which is
    scipy.ndimage's ``"reflect"``, the same rule as :func:`cryopick.pickers.patch.patches.extract_patches`).

CTF
    Given the micrographs' CTF (:mod:`cryopick.io.ctf_star`, RELION's
    ``micrographs_ctf.star``), every particle row carries its micrograph's
    ``rlnDefocusU/V``, ``rlnDefocusAngle`` and whichever of B-factor, scale factor, phase
    shift, fit resolution and figure of merit the file has, as RELION's own extraction
    does; 2D classification with CTF correction needs them.

Memory
    One micrograph is read at a time, and its stack is written box by box into a
    memory-mapped file before the next is read: one micrograph and one box in memory.

Resuming
    Beside each finished stack, ``Particles/.<name>.mrcs.json`` records what it was made
    from (the micrograph file's size and time, its boxes, the settings). An extraction
    run again, after an interruption or with more micrographs, reads only the micrographs
    whose stacks are missing or were made otherwise; the STAR file is written at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats.star import coordinate_columns, star_text  # the STAR boundary's conventions
from cryopick.io.ctf_star import CtfTable
from cryopick.io.micrographs import MicrographInfo, read_micrograph, read_micrograph_info
from cryopick.io.outputs import check_file_name, output_file
from cryopick.io.picks import check_inside, check_names_match, keep_given, match_names, picks_for, validate_picks
from cryopick.extract.boxes import ExtractConfig, crosses_edge, write_stack
from cryopick.extract.layout import STACK_FOLDER
from cryopick.runs.state import source_stamp

__all__ = ["ExtractResult", "extract_particles"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract_particles` wrote and left out.

    ``stacks`` has one ``.mrcs`` per micrograph with particles, in order; ``n_skipped_edge``
    counts boxes dropped at the edge (``edge="skip"``), ``n_padded`` boxes mirror-filled
    there (``edge="pad"``); ``n_left_out`` picks on ``n_micrographs_left_out`` micrographs
    not given were not extracted; ``ctf_path`` is the CTF file the particles' CTF came from.
    """

    star_path: Path
    stacks: tuple[Path, ...]
    n_extracted: int
    n_skipped_edge: int
    n_padded: int
    n_left_out: int
    n_micrographs_left_out: int
    ctf_path: Path | None = None


def extract_particles(
    micrographs: Sequence[str | Path],
    picks: pd.DataFrame,
    star_path: str | Path,
    config: ExtractConfig,
    *,
    apix: float | None = None,
    picks_source: str | Path | None = None,
    ctf: CtfTable | None = None,
) -> ExtractResult:
    """Cut every pick out of its micrograph and write MRC stacks and a RELION 3.1 STAR file.

    Parameters
    ----------
    micrographs
        Micrograph files; names (file stems) must be unique. Only those with picks are read.
    picks
        A Picks table; coordinates in pixels of these micrographs. Picks naming
        micrographs not given are left out (counted) as long as some name one given.
    star_path
        The particles STAR file to write. Stacks go to ``<its folder>/Particles/<name>.mrcs``;
        ``rlnImageName`` (``000001@Particles/m.mrcs``) and, for micrographs given by a
        relative path, ``rlnMicrographName`` are relative to that folder.
    config
        Box size, rescaling, normalisation, contrast, edges and optics.
    apix
        Pixel size in Å/px, overriding the micrograph headers.
    picks_source
        The file the picks came from, named in errors.
    ctf
        Each micrograph's CTF (:func:`cryopick.io.ctf_star.read_ctf_star`); every
        particle gets its micrograph's columns. Every micrograph with picks needs a row.

    Returns
    -------
    ExtractResult

    Raises
    ------
    CryopickError
        No micrographs or picks; names shared by two micrographs; no pick names a given
        micrograph; a pick outside its micrograph; every box crosses the edge (``skip``);
        ``ctf`` lacks a micrograph with picks.
    """
    star_path = output_file(Path(star_path))
    infos, table, n_left_out, n_mics_left_out = _checked_inputs(micrographs, picks, apix, picks_source)
    if ctf is not None:
        _check_ctf_covers(ctf, sorted(set(table["micrograph"])))
    folder = star_path.parent / STACK_FOLDER
    optics: dict[float, str] = {}  # original pixel size -> optics group number
    rows: list[pd.DataFrame] = []
    stacks: list[Path] = []
    n_skipped = n_padded = 0
    for info in infos:
        group = picks_for(table, info.name)
        if group.empty:
            continue
        group, centres, n_crossing = _boxed(group, info.shape, config)
        n_skipped += n_crossing
        if group.empty:  # every box crosses the edge
            continue
        target, n_mirrored = _stack(info, centres, folder, config)
        n_padded += n_mirrored
        stacks.append(target)
        optics_group = optics.setdefault(round(info.apix, 6), str(len(optics) + 1))
        mic_path = str(info.path) if info.path.is_absolute() else os.path.relpath(info.path, star_path.parent)
        rows.append(_particle_rows(group, mic_path, f"{STACK_FOLDER}/{target.name}", optics_group,
                                   None if ctf is None else ctf.per_micrograph.loc[info.name]))
        log.info("%s: %d particles -> %s", info.path, len(group), target)
    if not rows:
        raise CryopickError(f"all {n_skipped} picks lie within half a box ({config.box_size_px // 2} px) of the "
                            "micrograph edge", path=picks_source, fix="use --edge pad, or a smaller --box-size")
    _write_star(star_path, optics, pd.concat(rows, ignore_index=True), config, [] if ctf is None else ctf.columns)
    return ExtractResult(star_path, tuple(stacks), sum(len(r) for r in rows), n_skipped, n_padded,
                         n_left_out, n_mics_left_out, None if ctf is None else ctf.path)


def _checked_inputs(micrographs: Sequence[str | Path], picks: pd.DataFrame, apix: float | None,
                    picks_source: str | Path | None) -> tuple[list[MicrographInfo], pd.DataFrame, int, int]:
    """The micrographs' headers and the picks on them, checked; and how many picks (on how many others) are left out."""
    if not micrographs:
        raise CryopickError("no micrographs were given", fix="give the micrographs the picks were made on")
    infos = [read_micrograph_info(path, apix) for path in micrographs]
    shapes: dict[str, tuple[int, int]] = {}
    for info in infos:
        if info.name in shapes:
            raise CryopickError(f"two micrographs share the name {info.name!r}", path=info.path,
                                fix="give each micrograph once; names (file stems) must be unique")
        shapes[info.name] = info.shape
    table = validate_picks(picks, source=picks_source)
    if table.empty:
        raise CryopickError("there are no picks to extract", path=picks_source,
                            fix="give a coordinate file with picks (pick again with a lower threshold?)")
    table, n_left_out, n_mics_left_out = keep_given(match_names(table, shapes), shapes)
    check_names_match(table, shapes, picks_source)
    check_inside(table, shapes, picks_source)
    return infos, table, n_left_out, n_mics_left_out


def _boxed(group: pd.DataFrame, shape: tuple[int, int],
           config: ExtractConfig) -> tuple[pd.DataFrame, np.ndarray, int]:
    """One micrograph's picks that get a box, their box centres ``(cx, cy)`` and how many crossing the edge were
    dropped (``edge="skip"``; none with ``"pad"``)."""
    cx = np.floor(group["x"].to_numpy() + 0.5).astype(np.int64)
    cy = np.floor(group["y"].to_numpy() + 0.5).astype(np.int64)
    n_crossing = 0
    if config.edge == "skip":
        inside = ~crosses_edge(cx, cy, config.box_size_px, shape)
        n_crossing = int((~inside).sum())
        group, cx, cy = group.loc[inside].reset_index(drop=True), cx[inside], cy[inside]
    return group, np.column_stack([cx, cy]), n_crossing


def _stack(info: MicrographInfo, centres: np.ndarray, folder: Path, config: ExtractConfig) -> tuple[Path, int]:
    """The micrograph's stack in ``folder`` (kept when an earlier run made it from the same inputs, else written),
    and how many of its boxes were mirror-filled at the edge."""
    check_file_name(info.name, folder)
    target = folder / f"{info.name}.mrcs"
    stamp = _stamp(info, centres, config)
    done = _finished_stack(target, stamp)
    if done is None:
        mic = read_micrograph(info.path, info.apix)
        done = write_stack(mic.data, centres, config, target, info.apix * config.scale)
        del mic
        write_text_atomic(_record(target), json.dumps({"stamp": stamp, "n_padded": done}))
    return target, done


def _particle_rows(group: pd.DataFrame, micrograph: str, stack: str, optics_group: str,
                   ctf: pd.Series | None = None) -> pd.DataFrame:
    """The particles block rows of one micrograph (coordinates as :mod:`~cryopick.io.formats.star` writes them)."""
    rows = coordinate_columns(group)
    rows["rlnImageName"] = [f"{i:06d}@{stack}" for i in range(1, len(group) + 1)]
    rows["rlnMicrographName"] = micrograph
    rows["rlnOpticsGroup"] = optics_group
    for column, value in ({} if ctf is None else ctf.items()):
        rows[column] = f"{float(value):.6f}"
    return rows


def _check_ctf_covers(ctf: CtfTable, names: list[str]) -> None:
    missing = ctf.missing(names)
    if missing:
        listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CryopickError(f"{len(missing)} of the {len(names)} micrographs with picks have no CTF there: {listed}",
                            path=ctf.path, fix="give the CtfFind STAR that lists them, or leave --ctf out")


def _write_star(path: Path, optics: dict[float, str], particles: pd.DataFrame, config: ExtractConfig,
                ctf_columns: list[str]) -> None:
    """A RELION 3.1 particles STAR file: ``data_optics`` and ``data_particles``."""
    groups = list(optics.items())
    table = pd.DataFrame(
        {
            "rlnOpticsGroupName": [f"opticsGroup{number}" for _, number in groups],
            "rlnOpticsGroup": [number for _, number in groups],
            "rlnMicrographOriginalPixelSize": [f"{apix:.6f}" for apix, _ in groups],
            "rlnVoltage": f"{config.voltage_kv:.6f}",
            "rlnSphericalAberration": f"{config.cs_mm:.6f}",
            "rlnAmplitudeContrast": f"{config.amplitude_contrast:.6f}",
            "rlnImagePixelSize": [f"{apix * config.scale:.6f}" for apix, _ in groups],
            "rlnImageSize": str(config.output_size_px),
            "rlnImageDimensionality": "2",
        }
    )
    columns = ["rlnCoordinateX", "rlnCoordinateY", "rlnImageName", "rlnMicrographName", "rlnOpticsGroup",
               "rlnAutopickFigureOfMerit", *ctf_columns]
    write_text_atomic(path, star_text({"optics": table, "particles": particles[columns]}))


def _stamp(info: MicrographInfo, centres: np.ndarray, config: ExtractConfig) -> str:
    """What a stack was made from: the micrograph file's version, the boxes and the settings."""
    text = json.dumps({**source_stamp(info.path), "apix": info.apix, "config": asdict(config),
                       "centres": hashlib.sha256(centres.tobytes()).hexdigest()})
    return hashlib.sha256(text.encode()).hexdigest()


def _record(target: Path) -> Path:
    return target.parent / f".{target.name}.json"


def _finished_stack(target: Path, stamp: str) -> int | None:
    """The edge-padded count of a stack an earlier run finished from the same inputs (``stamp``), else None.

    An interrupted extraction then goes on from where it stopped instead of reading every
    micrograph again.
    """
    try:
        record = json.loads(_record(target).read_text())
    except (OSError, ValueError):
        return None
    if not target.exists() or not isinstance(record, dict) or record.get("stamp") != stamp:
        return None
    return int(record.get("n_padded", 0))
