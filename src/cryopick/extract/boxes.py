"""Particle boxes and MRC stacks: how :mod:`cryopick.extract.particles` cuts, prepares and writes each particle.

:class:`ExtractConfig` says how (box, rescaling, normalisation, contrast, edges, optics);
:func:`cut_box` cuts one box (mirrored past the edge), :func:`prepare_box` rescales,
normalises and inverts it in RELION's order, and :func:`write_stack` writes a
micrograph's boxes to a memory-mapped stack, atomically. The conventions are in
:mod:`cryopick.extract.particles`'s docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path
from cryopick.io.micrographs import label_without_time
from cryopick.preprocess import fourier_crop

EDGE_MODES: tuple[str, ...] = ("skip", "pad")
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
    ramp
        When normalising, first subtract the plane fitted (least squares) to the
        background pixels, as ``relion_preprocess`` does by default (an ice-thickness
        gradient across the box then does not bias the particle); False subtracts the
        background mean only (``--no_ramp``).
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
    ramp: bool = True
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


def box_windows(image: np.ndarray, cx: np.ndarray, cy: np.ndarray,
                size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ``size`` box of ``image``, mirrored past its edge, and where the wanted ones start in it.

    The one rule of cutting boxes, shared by :func:`cut_box` (extraction) and
    :func:`cut_boxes` (the patch classifiers' crops): the box of whole-pixel centre
    ``(cx, cy)`` (column, row) has that pixel at index ``size // 2``; where it leaves the
    image, the image is mirrored about its edge (numpy ``"symmetric"``:
    ``... b a | a b ...``, the edge pixel repeated, as often as the box needs).

    Returns
    -------
    windows, x0, y0
        ``windows[y0[i], x0[i]]`` is box ``i`` (a view). When every box lies inside,
        ``windows`` views ``image`` itself; otherwise a mirrored copy of the rectangle the
        boxes cover (one box's worth for a single box).
    """
    ny, nx = image.shape
    x0 = np.asarray(cx, dtype=np.intp) - size // 2
    y0 = np.asarray(cy, dtype=np.intp) - size // 2
    if x0.size == 0:
        return np.lib.stride_tricks.sliding_window_view(np.zeros((size, size), image.dtype), (size, size)), x0, y0
    if x0.min() >= 0 and y0.min() >= 0 and x0.max() + size <= nx and y0.max() + size <= ny:
        return np.lib.stride_tricks.sliding_window_view(image, (size, size)), x0, y0
    left, top, right, bottom = int(x0.min()), int(y0.min()), int(x0.max()) + size, int(y0.max()) + size
    region = image[np.ix_(_mirror(np.arange(top, bottom), ny), _mirror(np.arange(left, right), nx))]
    return np.lib.stride_tricks.sliding_window_view(region, (size, size)), x0 - left, y0 - top


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Indices folded into ``0..n-1`` by mirroring about the edges (edge pixel repeated)."""
    folded = np.mod(index, 2 * n)
    return np.where(folded < n, folded, 2 * n - 1 - folded)


def cut_boxes(image: np.ndarray, cx: np.ndarray, cy: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` boxes around whole-pixel centres ``(cx, cy)`` (:func:`box_windows`), as one (n, size, size) copy."""
    windows, x0, y0 = box_windows(image, cx, cy, size)
    return windows[y0, x0]


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
    windows, x0, y0 = box_windows(image, np.array([cx]), np.array([cy]), size)
    crosses = bool(crosses_edge(np.array([cx]), np.array([cy]), size, image.shape)[0])
    return windows[y0[0], x0[0]], crosses


def background_plane(image: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The plane ``a x + b y + c`` fitted by least squares to the ``background`` pixels, over the whole box."""
    rows, cols = np.indices(image.shape, dtype=np.float64)
    design = np.stack([cols[background], rows[background], np.ones(int(background.sum()))], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, image[background], rcond=None)
    return a * cols + b * rows + c


def crosses_edge(cx: np.ndarray, cy: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """For each whole-pixel centre, whether its ``size`` box leaves an image of ``shape`` (rows, columns)."""
    x0, y0 = cx - size // 2, cy - size // 2
    return (x0 < 0) | (y0 < 0) | (x0 + size > shape[1]) | (y0 + size > shape[0])


def prepare_box(box: np.ndarray, config: ExtractConfig, background: np.ndarray) -> np.ndarray:
    """Rescale, normalise and invert one box (RELION's order); float32."""
    image = np.array(box, dtype=np.float32)
    if config.rescale_px is not None and config.rescale_px != config.box_size_px:
        image = fourier_crop(image, config.scale)
        if image.shape != (config.rescale_px, config.rescale_px):  # guards the rounding in fourier_crop
            raise AssertionError(f"Fourier cropping gave {image.shape}, not {config.rescale_px}")
    if config.normalise:
        work = image.astype(np.float64)
        if config.ramp:
            work -= background_plane(work, background)
        values = work[background]
        mean, std = float(values.mean()), float(values.std())
        image = ((work - mean) / (std if std > 0 else 1.0)).astype(np.float32)
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


def write_stack(data: np.ndarray, centres: np.ndarray, config: ExtractConfig, target: Path, apix_out: float) -> int:
    """Write the boxes of ``data`` at ``centres`` ((n, 2) whole-pixel x, y) to the MRC stack ``target``.

    The stack is memory-mapped and written box by box (one box in memory), atomically.
    Returns the number of boxes that crossed the edge (mirror-filled).
    """
    size, out = config.box_size_px, config.output_size_px
    background = background_mask(out, config.background_radius)
    stats, n_padded = _Stats(), 0
    with atomic_path(target) as tmp:
        with mrcfile.new_mmap(tmp, shape=(len(centres), out, out), mrc_mode=2, overwrite=True) as mrc:
            mrc.set_image_stack()
            for i, (cx, cy) in enumerate(centres):
                box, crosses = cut_box(data, int(cx), int(cy), size)
                image = prepare_box(box, config, background)
                mrc.data[i] = image
                stats.add(image)
                n_padded += int(crosses)
            stats.write(mrc.header)
            mrc.voxel_size = apix_out
            label_without_time(mrc.header)
    return n_padded
