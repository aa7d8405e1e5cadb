"""The patch classifiers' patches: their settings, the patch scale, and cutting crops.

This reproduces the data preparation of the student report the ``patch`` baseline
follows (see ``docs/report_baseline.md``, section "Training examples"); which crops are
cut for training (the schemes below) is :mod:`cryopick.pickers.patch.sampling`:

* **Patch scale.** The report cut 180 px boxes and resized each to 64x64. Here the whole
  micrograph is brought once to a scale where the box (``box_diameters`` particle
  diameters, 1.35 by default) is exactly ``patch_px`` (64) pixels, so crops need no
  resampling: :func:`prepare_image` Fourier-crops with :func:`cryopick.preprocess.preprocess`
  and, when the particle is already smaller than ``patch_px / box_diameters`` (47.4)
  original pixels, enlarges the preprocessed image by linear interpolation.
* **Range 0..1.** After the robust normalisation (median 0, robust std 1) values are
  clipped to +-3 robust std and mapped linearly to 0..1 by ``(v + 3) / 6``, as the report
  fed its networks 0..1 inputs.
* **Scheme (a):** each labelled particle's crop and its 90, 180 and 270 degree rotations.
  **Scheme (b):** the centred crop and ``n_offsets`` crops shifted by up to
  ``offset_max_diameters`` diameters. Both draw negatives at random centres at least
  ``negative_min_distance_diameters`` diameters from every labelled particle, as many as
  the positives (balanced classes).

Coordinates follow the package's convention: x = column, y = row; Picks tables and
:attr:`PatchSet.centres_xy` are in pixels of the ORIGINAL micrograph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from cryopick.errors import CryopickError
from cryopick.extract.boxes import cut_boxes
from cryopick.io.micrographs import Micrograph
from cryopick.preprocess import (
    PreprocessConfig,
    Preprocessed,
    preprocess,
    robust_normalise,
)

__all__ = [
    "PATCH_PX",
    "PatchConfig",
    "PatchSet",
    "extract_patches",
    "prepare_image",
    "to_unit_range",
]

PATCH_PX = 64
"""Side of a training patch in pixels (the report's 64x64)."""

CLIP_SIGMAS = 3.0
"""Robust standard deviations kept on either side of the median before mapping to 0..1."""

SCHEMES = ("a", "b")


@dataclass(frozen=True)
class PatchConfig:
    """How training patches are cut and sampled.

    Attributes
    ----------
    patch_px
        Side of a patch in pixels (even; 64 as in the report).
    box_diameters
        Box side as a multiple of the particle diameter: 1.35 is the report's 180 px box
        around ~133 px particles.
    scheme
        ``"a"``: each particle plus its 90/180/270 degree rotations (4 positives per
        particle). ``"b"``: the centred crop plus ``n_offsets`` offset crops.
    negative_min_distance_diameters
        Negatives are centred at least this many diameters from every labelled particle.
    offset_max_diameters
        Scheme (b): the largest offset of an offset crop, in diameters.
    n_offsets
        Scheme (b): offset crops per particle, besides the centred one.
    negatives_per_positive
        Negatives drawn per positive crop (1: balanced classes).
    highpass_diameters
        High-pass cutoff in particle diameters (see :class:`~cryopick.preprocess.PreprocessConfig`);
        ``None`` turns it off.
    seed
        Seed of all random choices (offsets, negative centres).
    """

    patch_px: int = PATCH_PX
    box_diameters: float = 1.35
    scheme: str = "a"
    negative_min_distance_diameters: float = 0.3
    offset_max_diameters: float = 0.2
    n_offsets: int = 3
    negatives_per_positive: float = 1.0
    highpass_diameters: float | None = 8.0
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.patch_px, (int, np.integer)) and self.patch_px >= 8 and self.patch_px % 2 == 0):
            problems.append(f"patch_px must be an even integer >= 8, got {self.patch_px!r}")
        if not (math.isfinite(self.box_diameters) and self.box_diameters > 0):
            problems.append(f"box_diameters must be a positive number, got {self.box_diameters!r}")
        if self.scheme not in SCHEMES:
            problems.append(f"scheme must be 'a' (rotations) or 'b' (offsets), got {self.scheme!r}")
        if not (math.isfinite(self.negative_min_distance_diameters) and self.negative_min_distance_diameters >= 0):
            problems.append("negative_min_distance_diameters must be >= 0")
        if not (math.isfinite(self.offset_max_diameters) and self.offset_max_diameters > 0):
            problems.append("offset_max_diameters must be > 0")
        if not (isinstance(self.n_offsets, (int, np.integer)) and self.n_offsets >= 0):
            problems.append(f"n_offsets must be an integer >= 0, got {self.n_offsets!r}")
        if not (math.isfinite(self.negatives_per_positive) and self.negatives_per_positive >= 0):
            problems.append("negatives_per_positive must be >= 0")
        if problems:
            raise CryopickError("invalid patch settings: " + "; ".join(problems),
                                fix="use the defaults (64 px patches, box 1.35 diameters, scheme a)")

    @property
    def working_diameter_px(self) -> float:
        """Particle diameter in pixels at the patch scale (64 / 1.35 = 47.4 by default)."""
        return self.patch_px / self.box_diameters


@dataclass(frozen=True)
class PatchSet:
    """Labelled training patches.

    Attributes
    ----------
    patches
        float32 (N, patch_px, patch_px) in 0..1.
    labels
        float32 (N,): 1 particle, 0 background.
    groups
        int64 (N,): all augmentations of one particle (or one negative) share an id;
        ids are unique across micrographs, so a train/validation split by group never
        puts a rotation of a training particle in validation.
    micrographs
        str (N,): the micrograph each patch came from.
    centres_xy
        float64 (N, 2): the centre (x, y) of each crop in ORIGINAL micrograph pixels;
        this is the working pixel the crop is centred on, mapped back with the scale,
        so it differs from a label by at most half a working pixel per axis (plus the
        offset in scheme b). Rotated crops share their particle's centre.
    """

    patches: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    micrographs: np.ndarray
    centres_xy: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def empty(cls, patch_px: int = PATCH_PX) -> PatchSet:
        """A set with no patches."""
        return cls(np.zeros((0, patch_px, patch_px), np.float32), np.zeros(0, np.float32),
                   np.zeros(0, np.int64), np.zeros(0, dtype=object).astype(str), np.zeros((0, 2)))

    @classmethod
    def concatenate(cls, sets: Sequence[PatchSet]) -> PatchSet:
        """Join several sets in order (group ids are kept as they are)."""
        if not sets:
            return cls.empty()
        return cls(
            np.concatenate([s.patches for s in sets]),
            np.concatenate([s.labels for s in sets]),
            np.concatenate([s.groups for s in sets]),
            np.concatenate([s.micrographs for s in sets]),
            np.concatenate([s.centres_xy for s in sets]),
        )


# ----------------------------------------------------------------------------- image


def to_unit_range(normalised: np.ndarray) -> np.ndarray:
    """Map a robust-normalised image to 0..1: clip to +-3 robust std, then ``(v + 3) / 6``."""
    out = np.clip(normalised, -CLIP_SIGMAS, CLIP_SIGMAS).astype(np.float32, copy=True)
    out += np.float32(CLIP_SIGMAS)
    out *= np.float32(1.0 / (2.0 * CLIP_SIGMAS))
    return out


def prepare_image(mic: Micrograph, diameter_A: float, config: PatchConfig = PatchConfig()) -> Preprocessed:
    """Bring a micrograph to the patch scale, where the box is ``patch_px`` pixels, in 0..1.

    The micrograph is Fourier-cropped, high-passed and robust-normalised by
    :func:`~cryopick.preprocess.preprocess` so the particle is ``patch_px / box_diameters``
    pixels wide (47.4 by default). ``preprocess`` never upsamples, so a particle already
    smaller than that is enlarged afterwards by linear interpolation (sample ``j`` lies at
    ``j * n_orig / n_work`` in the original, the same convention as Fourier cropping) and
    normalised again. Values are then mapped to 0..1 by :func:`to_unit_range`.

    Parameters
    ----------
    mic
        The micrograph.
    diameter_A
        Particle diameter in Å.
    config
        Patch size, box size and high-pass.

    Returns
    -------
    Preprocessed
        ``image`` float32 in 0..1 at the patch scale; ``scale_x``/``scale_y`` map its
        pixels to the original (``to_original``); ``diameter_px`` is the particle diameter
        at the patch scale, so the box ``box_diameters * diameter_px`` equals ``patch_px``
        up to the rounding of the image size (relative error below ``1 / (2 n_work)``).
        ``factor`` is the requested factor ``d_orig / d_work``; below 1 for an enlargement.

    Raises
    ------
    CryopickError
        As :func:`~cryopick.preprocess.preprocess` (bad diameter, pixel size or pixels).
    """
    target = config.working_diameter_px
    pre = preprocess(mic, diameter_A, PreprocessConfig(working_diameter_px=target,
                                                       highpass_diameters=config.highpass_diameters))
    diameter_orig_px = float(diameter_A) / float(mic.apix)
    zoom = target / diameter_orig_px
    if zoom > 1.0:
        ny, nx = pre.image.shape  # preprocess left the original size (factor 1)
        out_shape = (max(1, round(ny * zoom)), max(1, round(nx * zoom)))
        image = robust_normalise(_enlarge(pre.image, out_shape))
        scale_x, scale_y = nx / out_shape[1], ny / out_shape[0]
        apix_working = float(mic.apix) * 0.5 * (scale_x + scale_y)
        pre = Preprocessed(name=pre.name, image=image, scale_x=scale_x, scale_y=scale_y,
                           apix_working=apix_working, diameter_px=float(diameter_A) / apix_working,
                           factor=1.0 / zoom)
    return replace(pre, image=to_unit_range(pre.image))


def _enlarge(image: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """Linear interpolation to a larger shape; output sample j lies at ``j * n / m`` per axis."""
    out = _enlarge_axis(image, out_shape[0], axis=0)
    return _enlarge_axis(out, out_shape[1], axis=1)


def _enlarge_axis(image: np.ndarray, m: int, axis: int) -> np.ndarray:
    n = image.shape[axis]
    pos = np.arange(m, dtype=np.float64) * (n / m)
    i0 = np.minimum(np.floor(pos).astype(np.intp), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)  # the last samples (beyond n - 1) repeat the edge pixel
    frac = (pos - i0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = m
    frac = frac.reshape(shape)
    a = np.take(image, i0, axis=axis)
    b = np.take(image, i1, axis=axis)
    a *= 1.0 - frac
    b *= frac
    a += b
    return a


def extract_patches(image: np.ndarray, centres_xy: np.ndarray, patch_px: int) -> np.ndarray:
    """Cut square crops centred at given pixels.

    Parameters
    ----------
    image
        2D array (ny, nx).
    centres_xy
        (n, 2) centres (x = column, y = row) in the image's pixels; fractional centres are
        rounded to the nearest pixel (halves up), and must lie inside the image.
    patch_px
        Side of the crops; the crop of centre ``c`` covers ``[c - patch_px // 2, c + patch_px // 2)``
        (for odd sizes, one more pixel after ``c``).

    Returns
    -------
    numpy.ndarray
        float32 (n, patch_px, patch_px). Where a crop leaves the image the image is
        mirrored about its edge (numpy ``"symmetric"``: ``... b a | a b ...``, the same as
        the high-pass filter's ``scipy.ndimage`` ``"reflect"``); the crops are cut by
        :func:`cryopick.extract.boxes.cut_boxes`, as extraction cuts its boxes.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"extract_patches needs a 2D image, got shape {image.shape}")
    centres = np.asarray(centres_xy, dtype=np.float64).reshape(-1, 2)
    patch_px = int(patch_px)
    if patch_px < 1:
        raise ValueError(f"patch_px must be positive, got {patch_px}")
    ny, nx = image.shape
    cx = np.floor(centres[:, 0] + 0.5).astype(np.intp)
    cy = np.floor(centres[:, 1] + 0.5).astype(np.intp)
    outside = (cx < 0) | (cx >= nx) | (cy < 0) | (cy >= ny)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f"{int(outside.sum())} crop centre(s) lie outside the {nx}x{ny} image, "
                         f"e.g. ({centres[i, 0]:g}, {centres[i, 1]:g})")
    return np.asarray(cut_boxes(image, cx, cy, patch_px), dtype=np.float32)
