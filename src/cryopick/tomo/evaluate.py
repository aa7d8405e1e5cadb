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
    """The fraction of picks (scoring at least ``threshold``) that are false and touch an object of ``kinds``.

    ``objects`` is a simulation's truth with every object's ``kind``, particles among them;
    the rule is :func:`false_on`'s.
    """
    judged = picks if threshold is None else picks.loc[picks["score"] >= threshold]
    return float(false_on(judged, objects, kinds).mean()) if len(judged) else 0.0


def false_on(picks: pd.DataFrame, objects: pd.DataFrame, kinds: tuple[str, ...]) -> np.ndarray:
    """For each pick: is it false and touching an object of ``kinds``?

    A pick is false when no particle's centre is within half that particle's diameter of
    it, and it touches an object when a particle-sized sphere round it overlaps the
    object's sphere (centres closer than the two radii): a pick on the dark spot beside a
    gold bead, or on a vesicle's shell, counts, a true particle beside a vesicle does not.
    """
    picks = picks.reset_index(drop=True)
    hits = np.zeros(len(picks), dtype=bool)
    for name, group in picks.groupby("tomogram", sort=False):
        here = objects.loc[objects["tomogram"] == name]
        mine = here.loc[here["kind"].isin(kinds)]
        if mine.empty:
            continue
        particles = here.loc[here["kind"] == "particle"]
        p = group[["x", "y", "z"]].to_numpy()
        r_particle = float(np.median(particles["diameter_px"])) / 2.0 if len(particles) else 0.0
        true = np.zeros(len(group), dtype=bool)
        if len(particles):
            distance = np.linalg.norm(p[:, None, :] - particles[["x", "y", "z"]].to_numpy()[None], axis=2)
            true = (distance <= particles["diameter_px"].to_numpy()[None, :] / 2.0).any(axis=1)
        distance = np.linalg.norm(p[:, None, :] - mine[["x", "y", "z"]].to_numpy()[None], axis=2)
        touch = (distance <= mine["diameter_px"].to_numpy()[None, :] / 2.0 + r_particle).any(axis=1)
        hits[group.index.to_numpy()] = touch & ~true
    return hits
