"""Training the 3D picker from sparse point labels: positive-unlabeled, the particle count estimated.

Labels mark some particle centres; everything else is *unlabeled* (particles and
background mixed), never "background". The network learns with the non-negative PU
risk (Kiryo et al. 2017, :func:`cryopick.pickers.fcn.pu.nn_pu_loss`):

* **Positives**: working voxels within ``0.3 d`` of a label. A shell up to ``0.6 d``
  around each label is left out (weight 0): neither particle centre nor clean background.
* **The prior** (the particle-centre fraction of the unlabeled voxels) comes from an
  estimated particle count: the labels' upper-quartile LoG score cuts the LoG peaks of
  the training tomograms, and four times the peaks above it is the count (a quarter of
  the particles score above their upper quartile, few noise peaks do). Labels are a
  sample of the particles, so this needs no count from the user; wrong labels pull the
  quartile down a little, so the count runs high rather than low.
* **Known background** (optional): points a person marked as not particles (rejected
  picks on membranes, carbon edges, contamination). Voxels within 0.5 d of one are
  known negatives, out of the unlabeled set; a quarter of the crops are centred on
  one, and their logistic loss enters the risk with weight :data:`BACKGROUND_SHARE`,
  as the 2D trainer does with background masks.
* **Wrong labels** are tolerated by the PU risk (a few wrong positives move it little);
  the network's own score then marks them: after training, labels whose probability
  stays under 0.1 are reported as likely wrong.
* **Augmentation**: crops turned by multiples of 90° about z and flipped in x, y and z
  (all exact on the voxel grid). Flips and 180° turns keep the missing wedge where it
  is; 90° turns move it from the x-z to the y-z plane, so the network learns particles
  whichever way the tilt axis lies.
* **Stopping**: the PU risk of a held-out slab (the unlabeled voxels of the last 15% of
  rows of every tomogram, against all the labels) is checked every 50 steps, the network
  run only on those rows and round the labels (a third of a whole pass). The slab
  spans every section, so it holds ice and particles as the training crops do (the
  last *sections* were mostly empty surface and gold: their risk rose while the
  picking improved). Like the 2D trainer (:mod:`cryopick.pickers.fcn.train`), the risk
  is averaged exponentially over checks (half weight to the newest) so one lucky check
  does not end training, a round runs at least ``min_step_fraction`` of its steps, and
  it stops when the smoothed risk has not improved for 3 checks, or after ``max_steps``.
* **Two rounds**: round 1 uses the first guess (at least twice the labels); the trained
  network then counts the particles (labels scoring as background set aside as wrong,
  twice the peaks above the others' median score), and round 2 continues with that
  count's prior. Each round takes up to ``max_steps / 2`` steps.
* **Dense-object guard**: how dense the labelled particles get sets the limit beyond
  which a voxel is gold, not protein (:func:`cryopick.tomo.guard.dense_limit`); it is
  kept in the model, picking drops candidates beside such voxels, and so does counting.
* **Threshold**: Otsu's cut of the candidates' scores on the training tomograms
  (:mod:`cryopick.tomo.threshold`): the gap between the particles' scores and the
  background's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.tomo.guard import dense_limit, near_dense
from cryopick.tomo.log3d import log_scores
from cryopick.tomo.model_file import TomoModel
from cryopick.tomo.network import TomoFCN
from cryopick.tomo.peaks import find_peaks_3d
from cryopick.tomo.pick import CANDIDATE_FLOOR
from cryopick.tomo.scale import WorkingVolume
from cryopick.tomo.threshold import otsu_threshold


BACKGROUND_SHARE = 0.2
"""The weight of the known-background risk beside the PU risk, in batches that hold known background."""


@dataclass(frozen=True)
class TomoTrainConfig:
    """Training settings; the defaults hold across the simulated structures (docs/tomograms.md)."""

    crop_vox: int = 24
    batch: int = 4
    max_steps: int = 1200
    check_every: int = 50
    patience: int = 3
    smoothing: float = 0.5
    min_step_fraction: float = 0.5
    learning_rate: float = 2e-3
    holdout_fraction: float = 0.15
    seed: int = 0


@dataclass
class LabelledVolume:
    """A working-scale training volume and its labels (working voxels, z, y, x)."""

    name: str
    work: WorkingVolume
    labels_zyx: np.ndarray
    background_zyx: np.ndarray | None = None
    """Points marked as not particles (working voxels, z, y, x), or None."""


def _maps(item: LabelledVolume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive map (1 within 0.3 d of a label), unlabeled weight (0 in the shell to 0.6 d and on known
    background) and the known-background map (1 within 0.5 d of a background point, away from labels)."""
    shape = item.work.data.shape
    d = item.work.diameter_vox
    positive = np.zeros(shape, np.float32)
    weight = np.ones(shape, np.float32)
    r_out = max(int(np.ceil(0.6 * d)), 1)
    grid = np.mgrid[-r_out:r_out + 1, -r_out:r_out + 1, -r_out:r_out + 1].astype(np.float32)
    dist = np.sqrt((grid**2).sum(axis=0))
    for centre in np.rint(item.labels_zyx).astype(int):
        sl, near = _around(centre, dist, shape)
        positive[sl] = np.maximum(positive[sl], (near <= max(0.3 * d, 1.0)).astype(np.float32))
        weight[sl] = np.minimum(weight[sl], (near > 0.6 * d).astype(np.float32))
    background = np.zeros(shape, np.float32)
    points = np.zeros((0, 3)) if item.background_zyx is None else np.asarray(item.background_zyx).reshape(-1, 3)
    for centre in np.rint(points).astype(int):
        sl, near = _around(centre, dist, shape)
        background[sl] = np.maximum(background[sl], (near <= max(0.5 * d, 1.0)).astype(np.float32))
    background *= weight > 0  # a label's ball and shell stay as they were
    weight *= 1.0 - background
    return positive, weight, background


def _around(centre: np.ndarray, dist: np.ndarray, shape: tuple[int, ...]) -> tuple[tuple[slice, ...], np.ndarray]:
    """The box of ``dist`` (a cube of distances from its centre) placed on ``centre``, clipped to ``shape``:
    the volume's slices and the distances over them."""
    r_out = dist.shape[0] // 2
    lo = centre - r_out
    sl = tuple(slice(max(l, 0), min(l + 2 * r_out + 1, n)) for l, n in zip(lo, shape))
    return sl, dist[tuple(slice(s.start - l, s.stop - l) for s, l in zip(sl, lo))]


def estimate_count(items: Sequence[LabelledVolume], quantile: float = 0.75) -> float:
    """Particles in the training volumes, from the LoG peaks and the LoG scores at the labels.

    Labels sample the particles, so a fraction ``1 - quantile`` of the particles score
    above the labels' ``quantile``-th LoG score; so few noise peaks score that high that
    the peaks above it, divided by ``1 - quantile``, count the particles.
    """
    at_labels, peaks = [], []
    for item in items:
        scores = log_scores(item.work)
        idx = np.clip(np.rint(item.labels_zyx).astype(int), 0, np.array(scores.shape) - 1)
        at_labels.append(scores[tuple(idx.T)])
        peaks.append(find_peaks_3d(scores, 0.7 * item.work.diameter_vox)[1])
    cut = float(np.quantile(np.concatenate(at_labels), quantile))
    n_above = float((np.concatenate(peaks) >= cut).sum())
    return max(n_above / (1.0 - quantile), float(sum(len(i.labels_zyx) for i in items)))


def train_tomo(items: Sequence[LabelledVolume], diameter_A: float, config: TomoTrainConfig = TomoTrainConfig(),
               progress: Callable[[str], None] | None = None) -> TomoModel:
    """Train the 3D picker on labelled working volumes; returns the model with its threshold and record.

    Round 1 learns with the first guess of the particle count; the trained network then
    counts the particles itself (:func:`count_with_network`) and round 2 goes on from
    round 1's weights with that count's prior.
    """
    import torch

    say = progress or (lambda line: None)
    n_labels = sum(len(i.labels_zyx) for i in items)
    if not items or n_labels == 0:
        raise CryopickError("no labels on the training tomograms", fix="give labels (--coords) on the tomograms given")
    start = time.perf_counter()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    maps = [_maps(item) for item in items]
    ball = sum(float(p.sum()) for p, _, _ in maps) / n_labels
    unlabeled = sum(float(((1 - p) * w).sum()) for p, w, _ in maps)

    def prior_for(count: float) -> float:
        return float(np.clip(max(count - n_labels, 0.25 * count) * ball / max(unlabeled, 1.0), 1e-4, 0.5))

    first = max(estimate_count(items), 2.0 * n_labels)  # labels are rarely more than half the particles
    guard = dense_limit([i.work.data for i in items], [i.labels_zyx for i in items], items[0].work.diameter_vox)
    network = TomoFCN()
    history: list[dict] = []
    count, steps, n_wrong = first, 0, 0
    for round_no in (1, 2):
        prior = prior_for(count)
        say(f"round {round_no}: {count:.0f} particles in the training tomograms, prior {prior:.5f}")
        steps += _fit(network, items, maps, prior, config, rng, history, round_no, say, start)
        count, n_wrong, ranked = count_with_network(network, items, guard)
        say(f"the network counts {count:.0f} particles; {n_wrong} of the {n_labels} labels score as background "
            "(likely wrong)")
    threshold = otsu_threshold(ranked[ranked > CANDIDATE_FLOOR])
    record = {"steps": steps, "seconds": round(time.perf_counter() - start, 1), "prior": prior,
              "n_particles_first_guess": first, "n_particles_estimate": count, "n_labels": n_labels,
              "n_labels_likely_wrong": n_wrong,
              "history": {k: [h[k] for h in history] for k in ("round", "step", "holdout_risk")}}
    say(f"trained in {record['seconds']:.0f} s ({steps} steps); threshold {threshold:.3f}; voxels beyond "
        f"{guard[0] * guard[1]:+.1f} robust units are taken as gold")
    return TomoModel(network, diameter_A, threshold, record, *guard)


def _fit(network: TomoFCN, items, maps, prior: float, config: TomoTrainConfig, rng: np.random.Generator,
         history: list[dict], round_no: int, say: Callable[[str], None], start: float) -> int:
    """One round of nnPU steps with early stopping on the held-out slab; leaves the best weights in ``network``."""
    import torch

    from cryopick.pickers.fcn.pu import nn_pu_loss

    network.train()
    optimiser = torch.optim.Adam(network.parameters(), lr=config.learning_rate / round_no)
    holdout = [int(item.work.data.shape[1] * (1 - config.holdout_fraction)) for item in items]
    best, best_state, stale, steps, smoothed = np.inf, None, 0, 0, np.nan
    round_steps = config.max_steps // 2
    for steps in range(1, round_steps + 1):
        x, p, w, g = _batch(items, maps, holdout, config, rng)
        logits = network(torch.from_numpy(x))
        pos = torch.from_numpy(p) > 0.5
        if not pos.any():  # a batch with no label in reach teaches nothing positive: draw another
            continue
        loss, _ = nn_pu_loss(logits[pos], logits[~pos], prior, weights_unl=torch.from_numpy(w)[~pos],
                             loss="logistic")
        known = torch.from_numpy(g) > 0.5
        if known.any():
            negative = torch.nn.functional.softplus(logits[known]).mean()
            loss = (1 - BACKGROUND_SHARE) * loss + BACKGROUND_SHARE * negative
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if steps % config.check_every == 0:
            risk = _holdout_risk(network, items, maps, holdout, prior)
            smoothed = risk if np.isnan(smoothed) else config.smoothing * smoothed + (1 - config.smoothing) * risk
            history.append({"round": round_no, "step": steps, "holdout_risk": risk})
            say(f"round {round_no} step {steps:5d}  held-out risk {risk:.5f} (smoothed {smoothed:.5f})  "
                f"({time.perf_counter() - start:.0f} s)")
            if smoothed < best - 1e-6:
                best, stale = smoothed, 0
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
            else:
                stale += 1
                if stale >= config.patience and steps >= config.min_step_fraction * round_steps:
                    break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return steps


def count_with_network(network: TomoFCN, items: Sequence[LabelledVolume], guard: tuple[float, float] | None = None,
                       wrong_below: float = 0.1) -> tuple[float, int, np.ndarray]:
    """Particles counted with the trained network: ``(count, labels likely wrong, peak scores descending)``.

    Peaks beside gold (``guard``: the dense-object guard's polarity and limit) are left out,
    as picking leaves them out.

    Each label's score is the strongest probability within half a diameter of it; labels
    under ``wrong_below`` are taken as wrong. The others sample the particles' scores,
    so twice the peaks scoring above their median is the count (the network scores
    little noise that high).
    """
    from cryopick.tomo.pick import probability_map  # runs the network in inference mode

    label_scores, peaks = [], []
    for item in items:
        scores = probability_map(network, item.work.data)
        near = ndimage.maximum_filter(scores, size=max(int(round(item.work.diameter_vox)) | 1, 3), mode="nearest")
        idx = np.clip(np.rint(item.labels_zyx).astype(int), 0, np.array(scores.shape) - 1)
        label_scores.append(near[tuple(idx.T)])
        zyx, score = find_peaks_3d(scores, 0.7 * item.work.diameter_vox, floor=0.0)
        if guard is not None:
            score = score[~near_dense(item.work.data, zyx, *guard, item.work.diameter_vox)]
        peaks.append(score)
    at_labels = np.concatenate(label_scores)
    ranked = np.sort(np.concatenate(peaks))[::-1]
    right = at_labels[at_labels >= wrong_below]
    n_wrong = int((at_labels < wrong_below).sum())
    if not right.size:
        return float(len(at_labels)), n_wrong, ranked
    count = 2.0 * float((ranked >= np.median(right)).sum())
    return max(count, float(right.size)), n_wrong, ranked


def _batch(items, maps, holdout, config: TomoTrainConfig, rng: np.random.Generator):
    """``batch`` augmented crops (volume, positives, weights, known background), each ``(n, 1, c, c, c)``.

    Crops come from the training rows; half (and the first) hold a label, and when there
    is known background a quarter are centred on a background point.
    """
    c = config.crop_vox
    xs, ps, ws, gs = [], [], [], []
    for b in range(config.batch):
        i = int(rng.integers(len(items)))
        vol = items[i].work.data
        pos, weight, known = maps[i]
        limits = (vol.shape[0], holdout[i], vol.shape[2])
        size = [min(c, n) for n in limits]
        origin = [int(rng.integers(0, n - s + 1)) for n, s in zip(limits, size)]
        points = items[i].background_zyx
        centre = None
        if len(items[i].labels_zyx) and (b == 0 or rng.random() < 0.5):
            centre = items[i].labels_zyx[int(rng.integers(len(items[i].labels_zyx)))]
        elif points is not None and len(points) and rng.random() < 0.5:
            centre = points[int(rng.integers(len(points)))]
        if centre is not None:
            origin = [int(np.clip(round(l) - s // 2 + rng.integers(-s // 4, s // 4 + 1), 0, n - s))
                      for l, n, s in zip(centre, limits, size)]
        sl = tuple(slice(o, o + s) for o, s in zip(origin, size))
        crops = [vol[sl], pos[sl], weight[sl], known[sl]]
        k, flips = int(rng.integers(4)), rng.random(3) < 0.5
        crops = [_augment(a, k, flips) for a in crops]
        # a volume thinner than the crop is padded with zeros: the weight 0 there leaves it out
        crops = [np.pad(a, [(0, c - s) for s in a.shape]) for a in crops]
        for out, crop in zip((xs, ps, ws, gs), crops):
            out.append(crop)
    return tuple(np.stack(a)[:, None].astype(np.float32) for a in (xs, ps, ws, gs))


def _augment(a: np.ndarray, k: int, flips: np.ndarray) -> np.ndarray:
    out = np.rot90(a, k, axes=(1, 2))
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis)
    return np.ascontiguousarray(out)


def _holdout_risk(network, items, maps, holdout, prior: float) -> float:
    """The nnPU risk of the unlabeled voxels of every tomogram's held-out rows against all its labels.

    The network runs only where the risk reads it (the held-out rows and a cube round each
    label, each with the network's reach as margin, as tiles are), not over the whole volume.
    """
    import torch

    from cryopick.pickers.fcn.pu import nn_pu_loss

    pos_logits, unl_logits, unl_weights = [], [], []
    for item, (pos, weight, _), start in zip(items, maps, holdout):
        shape = item.work.data.shape
        reach = int(np.ceil(max(0.3 * item.work.diameter_vox, 1.0))) + 1
        boxes = [((0, start, 0), shape)]
        for centre in np.rint(item.labels_zyx).astype(int):
            boxes.append((tuple(int(max(c - reach, 0)) for c in centre),
                          tuple(int(min(c + reach + 1, n)) for c, n in zip(centre, shape))))
        logits = _logits_in(network, item.work.data, boxes)
        p = pos > 0.5
        pos_logits.append(logits[p])
        held = np.zeros(shape, bool)
        held[:, start:] = True
        unl = held & ~p
        unl_logits.append(logits[unl])
        unl_weights.append(weight[unl])
    weights = torch.from_numpy(np.concatenate(unl_weights))
    if not sum(len(t) for t in pos_logits) or float(weights.sum()) <= 0:
        return float("nan")
    return float(nn_pu_loss(torch.from_numpy(np.concatenate(pos_logits)), torch.from_numpy(np.concatenate(unl_logits)),
                            prior, weights_unl=weights, loss="logistic")[1])


def _logits_in(network: TomoFCN, volume: np.ndarray, boxes: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]
               ) -> np.ndarray:
    """The network's logits over ``volume`` inside each box ``(lo, hi)`` (NaN elsewhere), exactly as untiled."""
    import torch

    out = np.full(volume.shape, np.nan, np.float32)
    margin = network.radius_vox
    grown = [([max(l - margin, 0) for l in lo], [min(h + margin, n) for h, n in zip(hi, volume.shape)])
             for lo, hi in boxes]
    if sum(np.prod(np.subtract(h, l)) for l, h in grown) >= volume.size:  # the boxes cost more than one pass
        boxes, grown = [((0, 0, 0), volume.shape)], [([0, 0, 0], list(volume.shape))]
    with torch.inference_mode():
        for (lo, hi), (lo_m, hi_m) in zip(boxes, grown):
            block = np.ascontiguousarray(volume[tuple(slice(l, h) for l, h in zip(lo_m, hi_m))])
            logits = network(torch.from_numpy(block)[None, None])[0, 0].numpy()
            out[tuple(slice(l, h) for l, h in zip(lo, hi))] = logits[
                tuple(slice(l - m, h - m) for l, h, m in zip(lo, hi, lo_m))]
    return out
