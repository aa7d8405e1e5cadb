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
    2. **Normalise**: subtract the mean and divide by the standard deviation (population,
       ``ddof=0``) of the background, the pixels farther than ``background_radius_px``
       from the centre (default 75% of half the rescaled box, RELION's default), so the
       background has mean 0 and standard deviation 1. RELION by default also subtracts
       a fitted ramp; cryopick subtracts the mean only (``relion_preprocess --no_ramp``).
    3. **Invert contrast** (default on): particles dark in cryo-EM micrographs become
       white, as RELION expects ("Invert contrast: Yes").

Edges
    A box that crosses the micrograph edge is dropped and counted (``edge="skip"``,
    default) or filled by mirroring the micrograph about its edge (``edge="pad"``; the
    edge pixel is repeated, ``... b a | a b ...``: numpy ``"symmetric"``, which is
    scipy.ndimage's ``"reflect"``, the same rule as :func:`cryopick.patches.extract_patches`).

Memory
    One micrograph is read at a time, and its stack is written box by box into a
    memory-mapped file before the next is read: one micrograph and one box in memory.
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
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path, write_text_atomic
from cryopick.io.formats._common import check_file_name, output_file
from cryopick.io.formats.star import coordinate_columns, star_text  # the STAR boundary's conventions
from cryopick.io.micrographs import MicrographInfo, read_micrograph, read_micrograph_info
from cryopick.io.picks import check_inside, check_names_match, keep_given, picks_for, validate_picks
from cryopick.preprocess import fourier_crop

__all__ = ["EDGE_MODES", "STACK_FOLDER", "ExtractConfig", "ExtractResult", "background_mask", "cut_box",
           "extract_particles"]

log = logging.getLogger(__name__)

EDGE_MODES: tuple[str, ...] = ("skip", "pad")
STACK_FOLDER = "Particles"
"""Stacks are written to ``<STAR file's folder>/Particles/<micrograph>.mrcs``."""
DEFAULT_BACKGROUND_FRACTION = 0.75
"""RELION's default background radius: 75% of half the box."""


@dataclass(frozen=True)
class ExtractConfig:
    """How particles are cut out and prepared.

    Attributes
    ----------
    box_size_px
        Side of the box in pixels of the original micrograph; positive and even.
    rescale_px
        Side after Fourier cropping (positive, even, at most ``box_size_px``); None keeps
        ``box_size_px``.
    invert
        Negate the images, so particles dark in the micrograph come out white.
    normalise
        Make the background mean 0 and standard deviation 1.
    background_radius_px
        Radius of the particle circle in output pixels (above 0, below half the output
        box); pixels farther from the centre are the background. None: 75% of half the box.
    edge
        ``"skip"`` drops boxes that cross the micrograph edge; ``"pad"`` mirrors the
        micrograph into them.
    voltage_kv, cs_mm, amplitude_contrast
        Written to the optics block (micrographs do not carry them).
    """

    box_size_px: int
    rescale_px: int | None = None
    invert: bool = True
    normalise: bool = True
    background_radius_px: float | None = None
    edge: str = "skip"
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.1

    def __post_init__(self) -> None:
        _check_even(self.box_size_px, "box size", "--box-size", "e.g. 256")
        if self.rescale_px is not None:
            _check_even(self.rescale_px, "rescaled box size", "--rescale", "e.g. half the box size")
            if self.rescale_px > self.box_size_px:
                raise CryopickError(
                    f"rescaled box ({self.rescale_px} px) is larger than the box ({self.box_size_px} px)",
                    fix="give --rescale at most --box-size (extraction only downsamples)",
                )
        if self.edge not in EDGE_MODES:
            raise CryopickError(f"unknown edge handling {self.edge!r}", fix=f"use one of {', '.join(EDGE_MODES)}")
        radius = self.background_radius
        if not (math.isfinite(radius) and 0 < radius < self.output_size_px / 2):
            raise CryopickError(
                f"background radius must be above 0 and below half the output box "
                f"({self.output_size_px / 2:g} px), got {radius:g}",
                fix="leave it unset for RELION's default (75% of half the box)",
            )
        for ok, what, flag in (
            (self.voltage_kv > 0, f"voltage must be positive, got {self.voltage_kv} kV", "--voltage 300"),
            (self.cs_mm >= 0, f"spherical aberration must be >= 0, got {self.cs_mm} mm", "--cs 2.7"),
            (0 <= self.amplitude_contrast < 1, f"amplitude contrast must be in [0, 1), got {self.amplitude_contrast}",
             "--amplitude-contrast 0.1"),
        ):
            if not ok:  # NaN fails every comparison
                raise CryopickError(what, fix=f"give the microscope's value, e.g. {flag}")

    @property
    def output_size_px(self) -> int:
        """Side of the written images."""
        return int(self.box_size_px if self.rescale_px is None else self.rescale_px)

    @property
    def scale(self) -> float:
        """Output pixel size over the micrograph's (``box_size_px / rescale_px``, >= 1)."""
        return self.box_size_px / self.output_size_px

    @property
    def background_radius(self) -> float:
        """The background radius in output pixels (the default filled in)."""
        fraction = DEFAULT_BACKGROUND_FRACTION * self.output_size_px / 2
        return fraction if self.background_radius_px is None else float(self.background_radius_px)


@dataclass(frozen=True)
class ExtractResult:
    """What :func:`extract_particles` wrote and left out.

    ``stacks`` has one ``.mrcs`` per micrograph with particles, in order; ``n_skipped_edge``
    counts boxes dropped at the edge (``edge="skip"``), ``n_padded`` boxes mirror-filled
    there (``edge="pad"``); ``n_left_out`` picks on ``n_micrographs_left_out`` micrographs
    not given were not extracted.
    """

    star_path: Path
    stacks: tuple[Path, ...]
    n_extracted: int
    n_skipped_edge: int
    n_padded: int
    n_left_out: int
    n_micrographs_left_out: int


def _check_even(value: object, what: str, flag: str, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0 or value % 2:
        raise CryopickError(
            f"{what} must be a positive even number of pixels, got {value!r}",
            fix=f"give {flag} {example} (RELION needs even boxes)",
        )


def background_mask(size: int, radius: float) -> np.ndarray:
    """True for the background pixels of a ``size`` box: farther than ``radius`` from its centre.

    The centre is pixel ``(size // 2, size // 2)``; distances are between pixel centres.
    """
    offset = np.arange(size) - size // 2
    return (offset[:, None] ** 2 + offset[None, :] ** 2) > radius * radius


def cut_box(image: np.ndarray, cx: int, cy: int, size: int) -> tuple[np.ndarray, bool]:
    """The ``size`` box with pixel ``(cx, cy)`` at index ``size // 2``, and whether it crosses the edge.

    Parameters
    ----------
    image
        2D array (ny, nx), x = column, y = row.
    cx, cy, size
        Whole-pixel centre (column, row) and side of the box.

    Returns
    -------
    box, crosses
        ``box`` is a view when it lies inside the image; otherwise a copy in which pixels
        outside are mirrored about the edge (numpy ``"symmetric"``: ``... b a | a b ...``).
    """
    ny, nx = image.shape
    x0, y0 = int(cx) - size // 2, int(cy) - size // 2
    if x0 >= 0 and y0 >= 0 and x0 + size <= nx and y0 + size <= ny:
        return image[y0 : y0 + size, x0 : x0 + size], False
    rows = _mirror(np.arange(y0, y0 + size), ny)
    cols = _mirror(np.arange(x0, x0 + size), nx)
    return image[np.ix_(rows, cols)], True


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Indices folded into ``0..n-1`` by mirroring about the edges (edge pixel repeated)."""
    folded = np.mod(index, 2 * n)
    return np.where(folded < n, folded, 2 * n - 1 - folded)


def _crosses_edge(cx: np.ndarray, cy: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    x0, y0 = cx - size // 2, cy - size // 2
    return (x0 < 0) | (y0 < 0) | (x0 + size > shape[1]) | (y0 + size > shape[0])


def _prepare(box: np.ndarray, config: ExtractConfig, background: np.ndarray) -> np.ndarray:
    """Rescale, normalise and invert one box (RELION's order); float32."""
    image = np.array(box, dtype=np.float32)
    if config.rescale_px is not None and config.rescale_px != config.box_size_px:
        image = fourier_crop(image, config.scale)
        if image.shape != (config.rescale_px, config.rescale_px):  # guards the rounding in fourier_crop
            raise AssertionError(f"Fourier cropping gave {image.shape}, not {config.rescale_px}")
    if config.normalise:
        values = image[background].astype(np.float64)
        mean, std = float(values.mean()), float(values.std())
        image = ((image - mean) / (std if std > 0 else 1.0)).astype(np.float32)
    if config.invert:
        np.negative(image, out=image)
    return image


@dataclass
class _Stats:
    """Running min, max, mean and rms of everything written to one stack (for its header)."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    low: float = math.inf
    high: float = -math.inf

    def add(self, image: np.ndarray) -> None:
        self.n, self.total = self.n + image.size, self.total + float(image.sum(dtype=np.float64))
        self.squares += float(np.square(image, dtype=np.float64).sum())
        self.low, self.high = min(self.low, float(image.min())), max(self.high, float(image.max()))

    def write(self, header: np.recarray) -> None:  # rms is the standard deviation, as mrcfile writes it
        mean = self.total / self.n
        header.dmin, header.dmax, header.dmean = self.low, self.high, mean
        header.rms = math.sqrt(max(self.squares / self.n - mean * mean, 0.0))


def _write_stack(
    info: MicrographInfo, centres: np.ndarray, config: ExtractConfig, target: Path, apix_out: float
) -> int:
    """Read one micrograph, write the boxes at ``centres`` ((n, 2) whole-pixel x, y) to ``target``.

    Returns the number of boxes that crossed the edge (mirror-filled).
    """
    mic = read_micrograph(info.path, info.apix)
    size, out = config.box_size_px, config.output_size_px
    background = background_mask(out, config.background_radius)
    stats, n_padded = _Stats(), 0
    with atomic_path(target) as tmp:
        with mrcfile.new_mmap(tmp, shape=(len(centres), out, out), mrc_mode=2, overwrite=True) as mrc:
            mrc.set_image_stack()
            for i, (cx, cy) in enumerate(centres):
                box, crosses = cut_box(mic.data, int(cx), int(cy), size)
                image = _prepare(box, config, background)
                mrc.data[i] = image
                stats.add(image)
                n_padded += int(crosses)
            stats.write(mrc.header)
            mrc.voxel_size = apix_out
    return n_padded


def extract_particles(
    micrographs: Sequence[str | Path],
    picks: pd.DataFrame,
    star_path: str | Path,
    config: ExtractConfig,
    *,
    apix: float | None = None,
    picks_source: str | Path | None = None,
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

    Returns
    -------
    ExtractResult

    Raises
    ------
    CryopickError
        No micrographs or picks; names shared by two micrographs; no pick names a given
        micrograph; a pick outside its micrograph; every box crosses the edge (``skip``).
    """
    star_path = output_file(Path(star_path))
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
    table, n_left_out, n_mics_left_out = keep_given(table, shapes)
    check_names_match(table, shapes, picks_source)
    check_inside(table, shapes, picks_source)

    folder = star_path.parent / STACK_FOLDER
    optics: dict[float, str] = {}  # original pixel size -> optics group number
    rows: list[pd.DataFrame] = []
    stacks: list[Path] = []
    n_skipped = n_padded = 0
    for info in infos:
        group = picks_for(table, info.name)
        if group.empty:
            continue
        cx = np.floor(group["x"].to_numpy() + 0.5).astype(np.int64)
        cy = np.floor(group["y"].to_numpy() + 0.5).astype(np.int64)
        if config.edge == "skip":
            inside = ~_crosses_edge(cx, cy, config.box_size_px, info.shape)
            n_skipped += int((~inside).sum())
            group, cx, cy = group.loc[inside].reset_index(drop=True), cx[inside], cy[inside]
        if group.empty:  # every box crosses the edge
            continue
        check_file_name(info.name, folder)
        target = folder / f"{info.name}.mrcs"
        n_padded += _write_stack(info, np.column_stack([cx, cy]), config, target, info.apix * config.scale)
        stacks.append(target)
        optics_group = optics.setdefault(round(info.apix, 6), str(len(optics) + 1))
        mic_path = str(info.path) if info.path.is_absolute() else os.path.relpath(info.path, star_path.parent)
        rows.append(_particle_rows(group, mic_path, f"{STACK_FOLDER}/{target.name}", optics_group))
        log.info("%s: %d particles -> %s", info.path, len(group), target)
    if not rows:
        raise CryopickError(f"all {n_skipped} picks lie within half a box ({config.box_size_px // 2} px) of the "
                            "micrograph edge", path=picks_source, fix="use --edge pad, or a smaller --box-size")
    _write_star(star_path, optics, pd.concat(rows, ignore_index=True), config)
    return ExtractResult(star_path, tuple(stacks), sum(len(r) for r in rows), n_skipped, n_padded,
                         n_left_out, n_mics_left_out)


def _particle_rows(group: pd.DataFrame, micrograph: str, stack: str, optics_group: str) -> pd.DataFrame:
    """The particles block rows of one micrograph (coordinates as :mod:`~cryopick.io.formats.star` writes them)."""
    rows = coordinate_columns(group)
    rows["rlnImageName"] = [f"{i:06d}@{stack}" for i in range(1, len(group) + 1)]
    rows["rlnMicrographName"] = micrograph
    rows["rlnOpticsGroup"] = optics_group
    return rows


def _write_star(path: Path, optics: dict[float, str], particles: pd.DataFrame, config: ExtractConfig) -> None:
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
               "rlnAutopickFigureOfMerit"]
    write_text_atomic(path, star_text({"optics": table, "particles": particles[columns]}))
