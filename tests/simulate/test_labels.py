"""cryopick.simulate.labels: truth and sparse, partly wrong labels, each either on a particle or listed as wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.simulate.dataset import simulate_dataset
from cryopick.simulate.labels import draw_labels, truth_picks
from tests.simulate.conftest import ALL_JUNK, small


def test_label_and_wrong_label_fractions_are_honoured(tmp_path: Path) -> None:
    config = small(n_micrographs=3, shape=(384, 384), particle_area_fraction=0.25, junk=ALL_JUNK,
                   label_fraction=0.4, wrong_label_fraction=0.3)
    summary = simulate_dataset(tmp_path, config)
    objects = pd.read_csv(tmp_path / "objects.csv")
    wrong = pd.read_csv(tmp_path / "labels_wrong.csv")
    labels = starfile.read(tmp_path / "labels.star")
    labels = labels["particles"] if isinstance(labels, dict) else labels
    assert summary.n_labels == len(labels)
    assert summary.n_labels == pytest.approx(0.4 * summary.n_particles, abs=3)
    assert len(wrong) == pytest.approx(0.3 * summary.n_labels, abs=3)
    assert set(wrong["kind"]) <= {"ice", "dot", "aggregate", "carbon_edge", "background"}
    names = labels["rlnMicrographName"].map(lambda m: Path(str(m)).stem)
    good = objects.query("kind == 'particle'")
    n_on_particles = 0
    for name, x, y in zip(names, labels["rlnCoordinateX"], labels["rlnCoordinateY"]):
        g = good.loc[good["micrograph"] == name]
        on_particle = bool((np.hypot(g["x"] - x, g["y"] - y) < 0.25 * g["diameter_px"]).any())
        is_wrong = bool(((wrong["micrograph"] == name) & np.isclose(wrong["x"], x, atol=1e-3)
                         & np.isclose(wrong["y"], y, atol=1e-3)).any())
        assert on_particle != is_wrong  # each label is either a real particle or listed as wrong
        n_on_particles += on_particle
    assert n_on_particles == summary.n_labels - len(wrong)


def _objects() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ten particles 20 px wide on a 100 x 200 grid, and one ice blob with two decoy points on it."""
    rows = [{"micrograph": "m", "x": 20.0 + 18 * i, "y": 30.0, "diameter_px": 20.0, "kind": "particle",
             "structure": "globular"} for i in range(10)]
    rows.append({"micrograph": "m", "x": 100.0, "y": 80.0, "diameter_px": 30.0, "kind": "ice", "structure": ""})
    decoys = pd.DataFrame({"x": [95.0, 105.0], "y": [80.0, 80.0], "kind": ["ice", "ice"]})
    return pd.DataFrame(rows), decoys


def test_truth_is_every_good_particle() -> None:
    objects, _ = _objects()
    truth = truth_picks(objects)
    assert len(truth) == 10 and (truth["score"] == 1.0).all() and (truth["diameter_px"] == 20.0).all()
    assert set(truth["structure"]) == {"globular"}
    none = truth_picks(objects.loc[objects["kind"] == "ice"])
    assert none.empty and "structure" in none.columns


def test_draw_labels_makes_the_asked_numbers_right_and_wrong() -> None:
    objects, decoys = _objects()
    labels, wrong = draw_labels(objects, decoys, "m", (100, 200), np.random.default_rng(0), 0.5, 0.4)
    assert len(labels) == 5 and len(wrong) == 2  # round(0.5 * 10), round(0.4 * 5)
    particles = objects.loc[objects["kind"] == "particle", ["x", "y"]].to_numpy()
    on_particle = [bool((np.hypot(*(particles - xy).T) < 1e-9).any()) for xy in labels[["x", "y"]].to_numpy()]
    assert sum(on_particle) == 3  # distinct particles, exactly where they are
    assert len({tuple(xy) for xy in labels[["x", "y"]].to_numpy()}) == 5
    assert set(wrong["kind"]) <= {"ice", "background"} and (wrong["micrograph"] == "m").all()
    again, _ = draw_labels(objects, decoys, "m", (100, 200), np.random.default_rng(0), 0.5, 0.4)
    pd.testing.assert_frame_equal(again, labels)  # the same generator state draws the same labels
