"""3D picks judged against 3D truth: one-to-one matching within a radius, as in 2D but in x, y, z.

:func:`evaluate_3d` is :func:`cryopick.evaluation.metrics.evaluate` on the tables with
the tomogram as the "micrograph" and ``z`` as a third axis of the distance, so the
matching rule, the curve, AP and best F1 are those of ``docs/evaluation.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryopick.evaluation.metrics import Evaluation, evaluate
from cryopick.tomo.coords import checked


def _as_2d_names(table: pd.DataFrame) -> pd.DataFrame:
    out = checked(table).rename(columns={"tomogram": "micrograph"})
    return out[["micrograph", "x", "y", "score", "diameter_px", "z"]]


def evaluate_3d(picks: pd.DataFrame, truth: pd.DataFrame, radius_vox: float,
                threshold: float | None = None) -> Evaluation:
    """Precision, recall, F1, AP and best F1 of 3D ``picks`` against ``truth`` (radius in voxels)."""
    return evaluate(_as_2d_names(picks), _as_2d_names(truth), radius_vox, threshold)


def fraction_on(picks: pd.DataFrame, objects: pd.DataFrame, kinds: tuple[str, ...], threshold: float | None = None
                ) -> float:
    """The fraction of picks (scoring at least ``threshold``) within its radius of an object of ``kinds``.

    A pick counts as on a fiducial or vesicle when it lies within half that object's
    diameter of its centre (for a vesicle: within 40 Å of its shell is not told apart, so
    the whole sphere counts).
    """
    judged = picks if threshold is None else picks.loc[picks["score"] >= threshold]
    if judged.empty:
        return 0.0
    hits = np.zeros(len(judged), dtype=bool)
    for name, group in judged.groupby("tomogram", sort=False):
        mine = objects.loc[(objects["tomogram"] == name) & objects["kind"].isin(kinds)]
        if mine.empty:
            continue
        p = group[["x", "y", "z"]].to_numpy()[:, None, :]
        o = mine[["x", "y", "z"]].to_numpy()[None, :, :]
        near = (np.linalg.norm(p - o, axis=2) <= mine["diameter_px"].to_numpy()[None, :] / 2.0).any(axis=1)
        hits[judged.index.get_indexer(group.index)] = near
    return float(hits.mean())
