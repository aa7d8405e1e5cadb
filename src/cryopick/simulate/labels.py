"""Truth and imperfect training labels drawn from a simulated micrograph's objects.

* The *truth* is every good particle (``kind == "particle"``) as a Picks table with
  score 1.
* The *labels* imitate a human or a previous picker: only a fraction of the particles is
  labelled (sparse labels), and a fraction of the labels is wrong, sitting on junk (ice,
  dots, aggregates, the carbon edge) or on empty background. Which labels are wrong is
  kept in a separate table, so training can be studied with and without the errors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryopick.io.picks import empty_picks, make_picks

WRONG_COLUMNS = ("micrograph", "x", "y", "kind")


def truth_picks(objects: pd.DataFrame) -> pd.DataFrame:
    """The good particles of an objects table as a Picks table (score 1, plus ``structure``)."""
    good = objects.loc[objects["kind"] == "particle"]
    if good.empty:
        out = empty_picks()
        out["structure"] = pd.Series(dtype=object)
        return out
    return make_picks(good["micrograph"].tolist(), good["x"].to_numpy(), good["y"].to_numpy(), 1.0,
                      good["diameter_px"].to_numpy(), structure=good["structure"].tolist())


def empty_wrong() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("x", "y") else object) for c in WRONG_COLUMNS})


def draw_labels(
    objects: pd.DataFrame,
    decoys: pd.DataFrame,
    name: str,
    shape: tuple[int, int],
    rng: np.random.Generator,
    label_fraction: float,
    wrong_label_fraction: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw training labels for one micrograph.

    ``round(label_fraction * n_particles)`` labels are made; ``round(wrong_label_fraction
    * n_labels)`` of them are wrong (half on a random decoy point of the junk, when there
    is junk, the rest on background at least a particle radius clear of every object);
    the others sit on distinct, randomly chosen particles.

    Returns
    -------
    labels
        Picks table (score 1, diameter_px the particles' diameter), in random order.
    wrong
        The wrong labels: ``micrograph, x, y, kind`` (the junk kind, or ``background``).
    """
    good = objects.loc[objects["kind"] == "particle"]
    n_label = int(round(label_fraction * len(good)))
    n_wrong = int(round(wrong_label_fraction * n_label))
    n_right = n_label - n_wrong
    chosen = good.iloc[np.sort(rng.choice(len(good), n_right, replace=False))] if n_right else good.iloc[:0]
    diameter = float(np.median(good["diameter_px"])) if len(good) else np.nan
    wx: list[float] = []
    wy: list[float] = []
    wkind: list[str] = []
    for _ in range(n_wrong):
        spot = None
        if len(decoys) and rng.random() < 0.5:
            d = decoys.iloc[int(rng.integers(len(decoys)))]
            spot = (float(d["x"]) + rng.normal(0, 1.0), float(d["y"]) + rng.normal(0, 1.0), str(d["kind"]))
        else:
            spot = _background_spot(objects, shape, rng, diameter)
            if spot is None and len(decoys):
                d = decoys.iloc[int(rng.integers(len(decoys)))]
                spot = (float(d["x"]), float(d["y"]), str(d["kind"]))
        if spot is None:
            continue
        x = float(np.clip(spot[0], 0, shape[1] - 1))
        y = float(np.clip(spot[1], 0, shape[0] - 1))
        wx.append(x)
        wy.append(y)
        wkind.append(spot[2])
    xs = np.concatenate([chosen["x"].to_numpy(), wx])
    ys = np.concatenate([chosen["y"].to_numpy(), wy])
    order = rng.permutation(len(xs))
    labels = make_picks(name, xs[order], ys[order], 1.0, np.full(len(xs), diameter))
    wrong = pd.DataFrame({"micrograph": [name] * len(wx), "x": wx, "y": wy, "kind": wkind},
                         columns=list(WRONG_COLUMNS))
    return labels, wrong


def _background_spot(objects: pd.DataFrame, shape: tuple[int, int], rng: np.random.Generator,
                     diameter: float) -> tuple[float, float, str] | None:
    """A random point at least a particle radius clear of every object's disc."""
    ny, nx = shape
    r_label = 0.5 * (diameter if np.isfinite(diameter) else 0.05 * min(shape))
    solid = objects.loc[np.isfinite(objects["diameter_px"].to_numpy())]
    ox = solid["x"].to_numpy()
    oy = solid["y"].to_numpy()
    orad = 0.5 * solid["diameter_px"].to_numpy()
    carbon = objects.loc[objects["kind"] == "carbon_edge"]
    for _ in range(8):
        cx = rng.uniform(r_label, max(nx - r_label, r_label + 1), 64)
        cy = rng.uniform(r_label, max(ny - r_label, r_label + 1), 64)
        ok = np.ones(len(cx), bool)
        if len(ox):
            d2 = (cx[:, None] - ox[None, :]) ** 2 + (cy[:, None] - oy[None, :]) ** 2
            ok &= (d2 >= (orad[None, :] + r_label) ** 2).all(axis=1)
        if len(carbon):  # keep background labels off the carbon edge line itself
            ex, ey = carbon["x"].to_numpy(), carbon["y"].to_numpy()
            ok &= (((cx[:, None] - ex[None, :]) ** 2 + (cy[:, None] - ey[None, :]) ** 2) >= (2 * r_label) ** 2).all(1)
        if ok.any():
            k = int(np.argmax(ok))
            return float(cx[k]), float(cy[k]), "background"
    return None
