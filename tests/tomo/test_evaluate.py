"""3D evaluation: false picks that touch gold or a vesicle are counted, true particles beside them are not."""

from __future__ import annotations

import pandas as pd
import pytest

from cryopick.tomo.evaluate import evaluate_3d, fraction_on


def _table(rows: list[tuple], kinds: bool = False) -> pd.DataFrame:
    columns = ["tomogram", "x", "y", "z", "score", "diameter_px"] + (["kind"] if kinds else [])
    return pd.DataFrame(rows, columns=columns)


OBJECTS = _table([("t", 50.0, 50.0, 20.0, None, 10.0, "fiducial"),  # gold: radius 5
                  ("t", 150.0, 50.0, 20.0, None, 100.0, "vesicle"),  # radius 50
                  ("t", 50.0, 62.0, 20.0, None, 12.0, "particle"),  # a particle 12 voxels from the gold
                  ("u", 10.0, 10.0, 10.0, None, 12.0, "particle")], kinds=True)


def test_false_picks_touching_gold_or_a_vesicle_count_and_true_particles_do_not() -> None:
    picks = _table([("t", 50.0, 60.5, 20.0, 0.9, 12.0),  # on the particle beside the gold: true
                    ("t", 50.0, 39.5, 20.0, 0.8, 12.0),  # 10.5 from the gold: its sphere touches the bead (5 + 6)
                    ("t", 150.0, 50.0, 74.0, 0.7, 12.0),  # 54 from the vesicle's centre: on its shell (50 + 6)
                    ("t", 150.0, 50.0, 80.0, 0.6, 12.0),  # 60 from it: clear of it
                    ("u", 90.0, 90.0, 10.0, 0.5, 12.0)])  # a tomogram with no gold or vesicle
    assert fraction_on(picks, OBJECTS, ("fiducial", "vesicle")) == pytest.approx(2 / 5)
    assert fraction_on(picks, OBJECTS, ("fiducial",)) == pytest.approx(1 / 5)
    assert fraction_on(picks, OBJECTS, ("fiducial", "vesicle"), threshold=0.75) == pytest.approx(1 / 2)
    assert fraction_on(picks.iloc[:0], OBJECTS, ("fiducial",)) == 0.0


def test_matching_is_in_three_dimensions() -> None:
    truth = OBJECTS.loc[OBJECTS["kind"] == "particle"].drop(columns="kind")
    picks = _table([("t", 50.0, 62.0, 27.0, 0.9, 12.0),  # 7 voxels off in z only: beyond the radius 6
                    ("u", 10.0, 10.0, 14.0, 0.8, 12.0)])  # 4 off in z: a match
    result = evaluate_3d(picks, truth, radius_vox=6.0)
    assert result.n_truth == 2 and result.n_picks == 2
    assert result.recall == pytest.approx(0.5) and result.precision == pytest.approx(0.5)
