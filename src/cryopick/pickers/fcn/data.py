"""Training examples for the fully convolutional picker: label maps and augmented crops.

A labelled micrograph becomes a :class:`DenseImage` at the working scale (the particle
``working_diameter_px`` wide, see :mod:`cryopick.preprocess`) with per-pixel maps:

* ``positive``: pixels within ``positive_radius_px`` of a labelled particle centre (the
  "P" examples of positive-unlabeled learning);
* ``weight``: 1 where the pixel takes part in the loss, 0 where the user marked the
  region *uncertain* (and outside the image);
* ``background``: pixels the user marked as certainly not particles (known negatives);
* ``validation``: the held-out strip (the bottom rows) used only to decide when to stop.

Everything that is not positive or background is *unlabeled*: particles nobody labelled
and background mixed (see :mod:`cryopick.pickers.fcn.pu`).

:func:`sample_crops` draws a batch of training crops: the input (core plus the network's
``margin_px`` of context on each side) and the maps over the core. With ``rotate`` each
crop is turned by a random angle and mirrored at random (bilinear for the image, nearest
for the maps), so the network sees every orientation of every particle; otherwise it is
turned by a random multiple of 90 degrees and mirrored, which is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import ndimage

from cryopick.io.masks import resize_mask
from cryopick.io.micrographs import Micrograph
from cryopick.preprocess import PreprocessConfig, Preprocessed, preprocess

INPUT_CLIP = 5.0
"""The network sees the robust-normalised image clipped to +-5 robust standard deviations,
so very dark ice or carbon does not dominate its input range."""

FCN_PREPROCESS = PreprocessConfig(working_diameter_px=16.0)
"""The fully convolutional picker works where the particle is 16 px wide: small enough to be
fast (a 4096 px micrograph of a 150 Å particle at 0.67 Å/px becomes 290 px), large enough
to tell a particle from a dot of ice."""

_IMAGE, _POSITIVE, _WEIGHT, _BACKGROUND = range(4)


def network_input(image: np.ndarray) -> np.ndarray:
    """The working image as the network sees it: float32, clipped to +-:data:`INPUT_CLIP`."""
    return np.clip(np.asarray(image, dtype=np.float32), -INPUT_CLIP, INPUT_CLIP)


@dataclass
class DenseImage:
    """One labelled micrograph at working scale, with its label maps (see module docstring).

    ``labels_xy`` holds the labels in use, (n, 2) working pixels (x = column, y = row);
    ``validation_start_row`` is the first row of the held-out strip (``height`` when none).
    """

    name: str
    image: np.ndarray
    labels_xy: np.ndarray
    positive: np.ndarray
    weight: np.ndarray
    background: np.ndarray
    validation_start_row: int
    preprocessed: Preprocessed

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape  # type: ignore[return-value]

    def train_rows(self) -> slice:
        return slice(0, self.validation_start_row)

    def with_labels(self, labels_xy: np.ndarray, positive_radius_px: float) -> DenseImage:
        """The same image with another set of labels (e.g. after cleaning)."""
        labels_xy = np.asarray(labels_xy, dtype=np.float64).reshape(-1, 2)
        return DenseImage(self.name, self.image, labels_xy, disc_map(self.shape, labels_xy, positive_radius_px),
                          self.weight, self.background, self.validation_start_row, self.preprocessed)


def disc_map(shape: tuple[int, int], centres_xy: np.ndarray, radius_px: float) -> np.ndarray:
    """Boolean map, True within ``radius_px`` of any centre (x = column, y = row)."""
    out = np.zeros(shape, dtype=bool)
    r = float(radius_px)
    reach = int(math.ceil(r))
    offsets = np.arange(-reach, reach + 1)
    for x, y in np.asarray(centres_xy, dtype=np.float64).reshape(-1, 2):
        cx, cy = int(round(x)), int(round(y))
        ys, xs = cy + offsets, cx + offsets
        inside_y = (ys >= 0) & (ys < shape[0])
        inside_x = (xs >= 0) & (xs < shape[1])
        dy = (ys[inside_y] - y)[:, None]
        dx = (xs[inside_x] - x)[None, :]
        out[np.ix_(ys[inside_y], xs[inside_x])] |= dx * dx + dy * dy <= r * r
    return out


def dense_image(pre: Preprocessed, labels_xy_work: np.ndarray, positive_radius_px: float, *,
                validation_fraction: float = 0.15, uncertain: np.ndarray | None = None,
                background: np.ndarray | None = None) -> DenseImage:
    """Build a :class:`DenseImage` from a preprocessed micrograph and labels in working pixels.

    ``uncertain`` and ``background`` are optional boolean masks of the working image's
    shape. The bottom ``validation_fraction`` of the rows is held out (none when 0).
    """
    image = network_input(pre.image)
    shape = image.shape
    labels = np.asarray(labels_xy_work, dtype=np.float64).reshape(-1, 2)
    weight = np.ones(shape, dtype=np.float32)
    if uncertain is not None:
        weight[_mask(uncertain, shape, "uncertain")] = 0.0
    bg = np.zeros(shape, dtype=bool) if background is None else _mask(background, shape, "background").copy()
    start = shape[0] - int(round(validation_fraction * shape[0]))
    return DenseImage(pre.name, image, labels, disc_map(shape, labels, positive_radius_px), weight, bg,
                      start, pre)


def labelled_image(mic: Micrograph, labels: pd.DataFrame, diameter_A: float, *,
                   positive_radius_diameters: float = 0.15, validation_fraction: float = 0.15,
                   uncertain: np.ndarray | None = None, background: np.ndarray | None = None,
                   min_label_score: float | None = None) -> DenseImage:
    """Preprocess a micrograph (:data:`FCN_PREPROCESS`) and build its label maps.

    Parameters
    ----------
    mic
        The micrograph.
    labels
        Its labels, a Picks table in original pixels.
    diameter_A
        Particle diameter in Å.
    positive_radius_diameters
        Radius of the positive disc around each label, in diameters.
    validation_fraction
        Bottom fraction of the rows held out.
    uncertain, background
        Optional boolean masks at the micrograph's original shape. A label whose centre
        lies in the background mask contradicts it (a careless click on junk) and is
        dropped.
    min_label_score
        Labels scoring below this (e.g. a previous picker's confidence) are not trusted:
        a particle-sized disc around each is ignored instead of learned from.
    """
    pre = preprocess(mic, diameter_A, FCN_PREPROCESS)
    shape = pre.image.shape
    xy = np.c_[labels["x"].to_numpy(dtype=float) / pre.scale_x, labels["y"].to_numpy(dtype=float) / pre.scale_y]
    ignore = np.zeros(shape, dtype=bool) if uncertain is None else resize_mask(uncertain, shape)
    if min_label_score is not None and len(xy):
        doubtful = labels["score"].to_numpy(dtype=float) < min_label_score
        ignore |= disc_map(shape, xy[doubtful], 0.5 * pre.diameter_px)
        xy = xy[~doubtful]
    bg = None if background is None else resize_mask(background, shape)
    if bg is not None and len(xy):
        rows = np.clip(np.rint(xy[:, 1]).astype(int), 0, shape[0] - 1)
        cols = np.clip(np.rint(xy[:, 0]).astype(int), 0, shape[1] - 1)
        xy = xy[~bg[rows, cols]]
    return dense_image(pre, xy, positive_radius_diameters * pre.diameter_px,
                       validation_fraction=validation_fraction, uncertain=ignore, background=bg)


def _mask(mask: np.ndarray, shape: tuple[int, int], what: str) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != shape:
        raise ValueError(f"{what} mask has shape {mask.shape}, the working image {shape}")
    return mask


@dataclass
class CropBatch:
    """A batch of crops: ``inputs`` (B, 1, S, S) and maps over the core (B, core, core)."""

    inputs: torch.Tensor
    positive: torch.Tensor
    unlabeled: torch.Tensor
    background: torch.Tensor


class CropSampler:
    """Draws augmented training crops from the training rows of :class:`DenseImage` s.

    Parameters
    ----------
    images
        The labelled micrographs.
    core_px
        Side of the core of a crop drawn anywhere, where the loss is computed.
    positive_core_px
        Side of the core of a crop centred near a label (default ``core_px``): only its
        positive pixels are used, so it can be small.
    margin_px
        Context on each side (the network's receptive-field radius), so the core's
        output equals what the whole-image pass gives.
    rotate
        Random angle and mirror (True) or random multiple of 90 degrees and mirror.
    rng
        Source of randomness.
    """

    def __init__(self, images: list[DenseImage], core_px: int, margin_px: int, rotate: bool,
                 rng: np.random.Generator, positive_core_px: int | None = None):
        self.core_px, self.margin_px, self.rotate, self.rng = int(core_px), int(margin_px), bool(rotate), rng
        self.positive_core_px = int(positive_core_px or core_px)
        pad = _window_px(max(self.core_px, self.positive_core_px) + 2 * self.margin_px) // 2 + 1
        self.pad = pad
        self.stacks: list[np.ndarray] = []
        self.train_heights: list[int] = []
        for img in images:
            train = np.zeros(img.shape, dtype=np.float32)
            train[img.train_rows()] = 1.0
            stack = np.stack([img.image, img.positive * train, img.weight * train, img.background * train])
            self.stacks.append(np.pad(stack.astype(np.float32), ((0, 0), (pad, pad), (pad, pad))))
            self.train_heights.append(img.validation_start_row)
        self.labels = [img.labels_xy[img.labels_xy[:, 1] < img.validation_start_row] for img in images]
        self.widths = [img.shape[1] for img in images]
        # Known background in the training rows, as connected regions: crops centred on a
        # region drawn uniformly show the network each small piece of junk (a dot, an
        # aggregate) as often as the large carbon film.
        self.background_regions: list[list[np.ndarray]] = []
        n_background, n_weighted = 0, 0.0
        for img in images:
            rows = img.train_rows()
            known = img.background[rows] & (img.weight[rows] > 0.5)
            labels, n = ndimage.label(known)
            flat = labels.ravel()
            order = np.argsort(flat, kind="stable")
            bounds = np.searchsorted(flat[order], np.arange(1, n + 2))
            self.background_regions.append([order[bounds[i]:bounds[i + 1]] for i in range(n)])
            n_background += int(known.sum())
            n_weighted += float((img.weight[rows] > 0.5).sum())
        self.background_fraction = n_background / n_weighted if n_weighted else 0.0
        """Fraction of the weighted training pixels that are known background."""

    @property
    def has_labels(self) -> bool:
        return any(len(lab) for lab in self.labels)

    @property
    def has_background(self) -> bool:
        return any(len(regions) for regions in self.background_regions)

    def sample(self, n_uniform: int, n_positive: int) -> tuple[CropBatch, CropBatch | None]:
        """``n_uniform`` crops anywhere in the training rows; ``n_positive`` centred near labels."""
        uniform = self._batch([self._uniform_centre() for _ in range(n_uniform)], self.core_px)
        if n_positive == 0 or not self.has_labels:
            return uniform, None
        return uniform, self._batch([self._positive_centre() for _ in range(n_positive)], self.positive_core_px)

    def sample_background(self, n: int) -> CropBatch | None:
        """``n`` crops (of the positive crops' size) centred on known background; None when there is none.

        A region of background (a connected piece of the masks) is drawn uniformly, then a
        pixel in it: small junk is shown as often as large.
        """
        if n == 0 or not self.has_background:
            return None
        counts = np.array([len(regions) for regions in self.background_regions], dtype=np.float64)
        centres = []
        for _ in range(n):
            k = int(self.rng.choice(len(counts), p=counts / counts.sum()))
            region = self.background_regions[k][int(self.rng.integers(len(self.background_regions[k])))]
            row, col = divmod(int(region[int(self.rng.integers(len(region)))]), self.widths[k])
            centres.append((k, float(col), float(row)))
        return self._batch(centres, self.positive_core_px)

    def _uniform_centre(self) -> tuple[int, float, float]:
        weights = np.array([h * w for h, w in zip(self.train_heights, self.widths)], dtype=np.float64)
        k = int(self.rng.choice(len(weights), p=weights / weights.sum()))
        return k, self.rng.uniform(0, self.widths[k]), self.rng.uniform(0, self.train_heights[k])

    def _positive_centre(self) -> tuple[int, float, float]:
        counts = np.array([len(lab) for lab in self.labels], dtype=np.float64)
        k = int(self.rng.choice(len(counts), p=counts / counts.sum()))
        x, y = self.labels[k][int(self.rng.integers(len(self.labels[k])))]
        jitter = self.positive_core_px / 4
        x = float(np.clip(x + self.rng.uniform(-jitter, jitter), 0, self.widths[k] - 1))
        y = float(np.clip(y + self.rng.uniform(-jitter, jitter), 0, self.train_heights[k] - 1))
        return k, x, y

    def _batch(self, centres: list[tuple[int, float, float]], core_px: int) -> CropBatch:
        side = core_px + 2 * self.margin_px
        w = _window_px(side)
        windows = []
        for k, x, y in centres:
            x0 = int(round(x)) + self.pad - w // 2
            y0 = int(round(y)) + self.pad - w // 2
            windows.append(self.stacks[k][:, y0:y0 + w, x0:x0 + w])
        stack = torch.from_numpy(np.stack(windows))
        stack = self._rotate(stack, side) if self.rotate else self._rot90(stack, side)
        m = self.margin_px
        core = stack[:, :, m:m + core_px, m:m + core_px]
        weight = core[:, _WEIGHT] > 0.5
        background = (core[:, _BACKGROUND] > 0.5) & weight
        positive = (core[:, _POSITIVE] > 0.5) & weight
        return CropBatch(stack[:, :1].contiguous(), positive, weight & ~background, background)

    def _rot90(self, stack: torch.Tensor, side: int) -> torch.Tensor:
        off = (stack.shape[-1] - side) // 2
        stack = stack[:, :, off:off + side, off:off + side]
        out = []
        for crop in stack:
            crop = torch.rot90(crop, int(self.rng.integers(4)), dims=(1, 2))
            out.append(torch.flip(crop, dims=(2,)) if self.rng.random() < 0.5 else crop)
        return torch.stack(out)

    def _rotate(self, stack: torch.Tensor, side: int) -> torch.Tensor:
        n = stack.shape[0]
        angles = self.rng.uniform(0, 2 * math.pi, n)
        mirror = np.where(self.rng.random(n) < 0.5, -1.0, 1.0)
        scale = side / stack.shape[-1]
        theta = np.zeros((n, 2, 3), dtype=np.float32)
        theta[:, 0, 0] = np.cos(angles) * mirror * scale
        theta[:, 0, 1] = -np.sin(angles) * scale
        theta[:, 1, 0] = np.sin(angles) * mirror * scale
        theta[:, 1, 1] = np.cos(angles) * scale
        grid = F.affine_grid(torch.from_numpy(theta), [n, 1, side, side], align_corners=False)
        image = F.grid_sample(stack[:, :1], grid, mode="bilinear", align_corners=False)
        maps = F.grid_sample(stack[:, 1:], grid, mode="nearest", align_corners=False)
        return torch.cat([image, maps], dim=1)


def _window_px(side_px: int) -> int:
    """A window large enough to turn a ``side_px`` square inside it, of the same parity."""
    window = int(math.ceil(side_px * math.sqrt(2))) + 2
    return window + (window - side_px) % 2
