"""Picking a tomogram with the 3D network: tiled inference under a memory cap, 3D peaks, every candidate scored.

Tiles are boxes whose core is set by the memory cap (a setting, never the free memory,
so the same input gives the same picks on any machine); each is read with
:attr:`~cryopick.tomo.network.TomoFCN.radius_vox` voxels of margin, clipped at the
volume's faces, so every core voxel sees what it would see untiled: the tiled map equals
the untiled one (tested). Tiles run through
:func:`cryopick.device.thread_invariant_map`, at most :data:`TILE_THREADS` at once, so
the result does not depend on the thread count and the memory does not grow with it.

A tomogram is picked a slab of working sections at a time (:func:`pick_tomogram`): the
slab's sections are read and binned from the file, scored, searched for local maxima
(with the scores of the sections either side that a maximum needs), and dropped; only
the candidates are kept, and suppressed against each other at the end. So the memory
is bounded by :data:`SLAB_MEMORY_CAP_BYTES` whatever the tomogram's size, and the picks
are those of the whole volume at once. A volume whose working sections all fit under
the cap is one slab. A model with a dense-object guard (:mod:`cryopick.tomo.guard`)
drops the candidates beside gold and other voxels far denser than its particles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.tomo.coords import make_picks3d
from cryopick.tomo.guard import dense_voxels, near_points
from cryopick.tomo.model_file import TomoModel
from cryopick.tomo.network import TomoFCN
from cryopick.tomo.peaks import local_maxima, reach_vox, suppress
from cryopick.tomo.scale import WorkingReader, WorkingVolume

TILE_MEMORY_CAP_BYTES = 256 * 2**20
"""Memory one tile may use in inference; it sets the tile size (and so the picks do not depend on free memory)."""
CANDIDATE_FLOOR = 0.01
"""Peaks scoring at or below this are not kept as candidates."""
MIN_DISTANCE_DIAMETERS = 0.7
TILE_THREADS = 2
"""In picking, at most this many tiles are in inference at once (each under the tile cap); more cores are used by
picking more tomograms at once (``--workers``), each in its own process."""
SLAB_MEMORY_CAP_BYTES = 512 * 2**20
"""Memory the working sections of one slab may use in picking (input, scores, the peak search); it sets the slab."""


@dataclass(frozen=True)
class TomoPickConfig:
    """How a tomogram is picked: the threshold (None: the model's), all peaks, the tile memory cap, the guard."""

    threshold: float | None = None
    all_peaks: bool = False
    memory_cap_bytes: int = TILE_MEMORY_CAP_BYTES
    dense_guard: bool = True
    slab_memory_cap_bytes: int = SLAB_MEMORY_CAP_BYTES
    tile_threads: int = TILE_THREADS


def tile_core_vox(network: TomoFCN, memory_cap_bytes: int) -> int:
    """The core side of a cubic tile whose core plus margins fit under ``memory_cap_bytes``."""
    side = int(math.floor((memory_cap_bytes / network.activation_bytes_per_voxel()) ** (1.0 / 3.0)))
    core = side - 2 * network.radius_vox
    if core < 8:
        raise CryopickError(f"a tile memory cap of {memory_cap_bytes} bytes is too small for the network",
                            fix="raise the memory cap (at least 8 MB)")
    return core


def probability_map(network: TomoFCN, volume: np.ndarray, memory_cap_bytes: int = TILE_MEMORY_CAP_BYTES,
                    tile_vox: int | None = None, max_threads: int | None = None) -> np.ndarray:
    """The network's probabilities over ``volume[z, y, x]``, computed tile by tile (``tile_vox``: core side).

    ``max_threads`` bounds the tiles in inference at once (None: one a PyTorch thread).
    """
    core = tile_vox if tile_vox is not None else tile_core_vox(network, memory_cap_bytes)
    return _scores(network, volume, (0, volume.shape[0]), (core, core, core), max_threads)


def _tile_core(network: TomoFCN, memory_cap_bytes: int, sections: int) -> tuple[int, int, int]:
    """The tile core for a slab of ``sections``: the cubic one, or thinner in z and wider in y and x."""
    core = tile_core_vox(network, memory_cap_bytes)
    if sections >= core:
        return core, core, core
    margin = 2 * network.radius_vox
    across = (memory_cap_bytes / network.activation_bytes_per_voxel() / (sections + margin)) ** 0.5
    return sections, int(math.floor(across)) - margin, int(math.floor(across)) - margin


def _scores(network: TomoFCN, volume: np.ndarray, rows: tuple[int, int], core: tuple[int, int, int],
            max_threads: int | None) -> np.ndarray:
    """Probabilities of sections ``rows[0]:rows[1]`` of ``volume``, from tiles of ``core`` voxels plus margins."""
    import copy

    import torch

    from cryopick.device import thread_invariant_map

    # channels-last 3D convolutions run ~1.7x faster on the CPU; a copy, so a network in training is left as it is
    net = copy.deepcopy(network).to(memory_format=torch.channels_last_3d)
    margin = network.radius_vox
    shape = volume.shape
    first, last = rows
    out = np.empty((last - first, *shape[1:]), np.float32)
    starts = [range(first, last, core[0]), range(0, shape[1], core[1]), range(0, shape[2], core[2])]
    tiles = [(z, y, x) for z in starts[0] for y in starts[1] for x in starts[2]]
    ends = (last, shape[1], shape[2])

    def run(origin: tuple[int, int, int]) -> None:
        lo = [max(o - margin, 0) for o in origin]
        hi = [min(o + c + margin, n) for o, c, n in zip(origin, core, shape)]
        block = torch.from_numpy(np.ascontiguousarray(volume[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]))
        prob = torch.sigmoid(net(block[None, None].contiguous(memory_format=torch.channels_last_3d)))[0, 0].numpy()
        inner = tuple(slice(o - l, min(o + c, e) - l) for o, c, l, e in zip(origin, core, lo, ends))
        where = (slice(origin[0] - first, min(origin[0] + core[0], last) - first),
                 *(slice(o, min(o + c, e)) for o, c, e in zip(origin[1:], core[1:], ends[1:])))
        out[where] = prob[inner]  # tiles write apart, so threads never meet

    thread_invariant_map(run, tiles, max_threads=max_threads)
    return out


def slab_sections(network: TomoFCN, section_voxels: int, reach: int, memory_cap_bytes: int) -> int:
    """How many working sections one slab scores: its input (with margins), scores and peak search fit the cap.

    A slab holds about five copies of its sections (input, scores, the scores with the
    ``reach`` sections either side that the peak search needs, its maximum filter, the
    comparisons) plus the input's margins. It is never thinner than the network's reach,
    so no more than three times the slab's sections are run through the network: past
    about 1250×1250 working voxels a section (at the default cap) that floor, not the
    cap, sets the slab, and memory grows with the section's area.
    """
    per_section = 4 * section_voxels
    held = memory_cap_bytes // per_section - 2 * network.radius_vox - 6 * reach
    return max(int(held // 5), network.radius_vox)


def pick_tomogram(model: TomoModel, work: WorkingVolume | WorkingReader, name: str,
                  config: TomoPickConfig = TomoPickConfig()) -> pd.DataFrame:
    """Picks of one tomogram in original voxels, strongest first, each with its probability, a slab at a time."""
    network, margin = model.network, model.network.radius_vox
    threshold = model.threshold if config.threshold is None else config.threshold
    floor = CANDIDATE_FLOOR if config.all_peaks else max(threshold, CANDIDATE_FLOOR) - 1e-12
    min_distance = MIN_DISTANCE_DIAMETERS * work.diameter_vox
    reach = reach_vox(min_distance)
    guard = config.dense_guard and model.dense_limit is not None and model.dense_polarity is not None
    nz, ny, nx = work.shape
    step = slab_sections(network, ny * nx, reach, config.slab_memory_cap_bytes)
    core = _tile_core(network, config.memory_cap_bytes, step)
    found, values, dense = [], [], []
    window, start, done = np.empty((0, ny, nx), np.float32), 0, 0  # scores of sections start.., maxima below done
    for first in range(0, nz, step):
        last = min(first + step, nz)
        block = work.sections(first - margin, last + margin)
        offset = max(first - margin, 0)
        scores = _scores(network, block, (first - offset, last - offset), core, config.tile_threads)
        if guard:
            own = block[first - offset:last - offset]
            dense.append(dense_voxels(own, model.dense_polarity, model.dense_limit) + [first, 0, 0])
        del block
        window = np.concatenate([window, scores]) if len(window) else scores
        upto = nz if last == nz else last - reach  # maxima there have every section they need
        if upto > done:
            zyx, value = local_maxima(window, min_distance, floor, rows=(done - start, upto - start))
            found.append(zyx + [start, 0, 0])
            values.append(value)
            done = upto
            keep = max(done - reach, 0)
            window, start = window[keep - start:].copy(), keep
    zyx, score = suppress(np.concatenate(found), np.concatenate(values), min_distance)
    if guard:
        keep = ~near_points(np.concatenate(dense), zyx, work.diameter_vox)
        zyx, score = zyx[keep], score[keep]
    original = work.to_original(zyx)
    return make_picks3d(name, original[:, 2], original[:, 1], original[:, 0], score, work.diameter_vox * work.bin)
