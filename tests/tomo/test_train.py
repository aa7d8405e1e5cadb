"""Training the 3D picker: the label and known-background maps, and background points learned as negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from cryopick.errors import CryopickError  # noqa: E402
from cryopick.tomo.scale import WorkingVolume  # noqa: E402
from cryopick.tomo.train import LabelledVolume, TomoTrainConfig, _batch, _maps, train_tomo  # noqa: E402


def _item(background: np.ndarray | None) -> LabelledVolume:
    volume = np.random.default_rng(0).normal(size=(20, 30, 40)).astype(np.float32)
    return LabelledVolume("t", WorkingVolume(volume, 1, 7.0), np.array([[10.0, 10.0, 10.0]]), background)


def test_background_points_are_known_negatives_away_from_the_labels() -> None:
    positive, weight, known = _maps(_item(np.array([[10.0, 20.0, 30.0], [10.0, 12.0, 10.0]])))
    assert known[10, 20, 30] == 1 and weight[10, 20, 30] == 0 and positive[10, 20, 30] == 0
    assert known[10, 20, 34] == 0 and weight[10, 20, 34] == 1  # 4 voxels out: beyond half a diameter
    # the second point lies in the label's shell: the label's ball and shell stay as they were
    assert known[10, 12, 10] == 0 and positive[10, 10, 10] == 1 and weight[10, 12, 10] == 0
    plain = _maps(_item(None))
    assert not plain[2].any()
    np.testing.assert_array_equal(plain[0], positive)


def test_a_quarter_of_the_crops_are_centred_on_background() -> None:
    item = _item(np.array([[10.0, 20.0, 30.0]]))
    config = TomoTrainConfig(crop_vox=12, batch=4)
    rng = np.random.default_rng(1)
    batches = [_batch([item], [_maps(item)], [30], config, rng) for _ in range(50)]
    with_background = np.mean([(g.reshape(4, -1).max(axis=1) > 0) for *_, g in batches])
    assert 0.15 < with_background < 0.6  # a quarter centred on it, some others reach it by chance


def _scene(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dark balls (particles) and dark hollow shells (decoys) in noise; their centres."""
    rng = np.random.default_rng(seed)
    shape = (24, 64, 64)
    volume = rng.normal(0, 1, shape).astype(np.float32)
    z, y, x = np.indices(shape)
    grid = [[12, 12 + 20 * i, 12 + 20 * j] for i in range(3) for j in range(3)]
    balls = np.array([c for k, c in enumerate(grid) if k % 2 == 0], float)
    shells = np.array([c for k, c in enumerate(grid) if k % 2 == 1], float)
    for c in balls:
        volume[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 9] -= 3.0
    for c in shells:
        r2 = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2
        volume[(r2 >= 6) & (r2 <= 16)] -= 3.0
    return volume, balls, shells


def test_training_with_background_points_tells_decoys_from_particles() -> None:
    """From 3 labels alone the short training scores shells as high as balls; 2 shells marked, it ranks them apart."""
    from cryopick.tomo.pick import probability_map

    volume, balls, shells = _scene(0)
    work = WorkingVolume(volume, 1, 7.0)
    config = TomoTrainConfig(crop_vox=20, max_steps=240, check_every=40, seed=0)
    scores = {}
    for name, background in (("plain", None), ("background", shells[:2])):
        model = train_tomo([LabelledVolume("t", work, balls[:3], background)], 70.0, config)
        prob = probability_map(model.network, volume)
        scores[name] = ([prob[tuple(c.astype(int))] for c in balls], [prob[tuple(c.astype(int))] for c in shells])
    balls_plain, shells_plain = scores["plain"]
    assert min(balls_plain) <= max(shells_plain), scores  # measured 0.46 against 0.47: the labels alone cannot
    balls_marked, shells_marked = scores["background"]
    # every ball above every shell, the two shells never marked among them (measured 0.08 against <= 0.01)
    assert min(balls_marked) > 2 * max(shells_marked), scores


def test_background_files_that_name_no_tomogram_are_one_error(tmp_path: Path) -> None:
    from cryopick.tomo.coords import write_picks3d
    from cryopick.tomo.jobs import TomoTrainJob, train_files
    from cryopick.tomo.volumes import write_tomogram

    tomo = write_tomogram(tmp_path / "t.mrc", np.random.default_rng(0).normal(size=(24, 40, 48)), 10.0)
    write_picks3d(pd.DataFrame({"tomogram": ["t"], "x": [10.0], "y": [10.0], "z": [10.0]}), tmp_path / "l.csv")
    write_picks3d(pd.DataFrame({"tomogram": ["other"], "x": [10.0], "y": [10.0], "z": [10.0]}), tmp_path / "b.csv")
    job = TomoTrainJob((str(tomo),), tmp_path / "l.csv", 70.0, tmp_path / "m.cryopick", background=tmp_path / "b.csv")
    with pytest.raises(CryopickError, match="no background point names") as error:
        train_files(job)
    assert "b.csv" in error.value.message and "fix:" in error.value.message
    write_picks3d(pd.DataFrame({"tomogram": ["t"], "x": [100.0], "y": [10.0], "z": [10.0]}), tmp_path / "b.csv")
    with pytest.raises(CryopickError, match="outside"):
        train_files(job)


def test_background_points_reach_training_from_the_command_line(tmp_path: Path, capsys) -> None:
    from cryopick.tomo.coords import write_picks3d
    from cryopick.tomo.volumes import write_tomogram
    from tests.cli.test_cli import run_cli

    volume, balls, shells = _scene(1)
    tomo = write_tomogram(tmp_path / "t.mrc", volume, 10.0)
    table = lambda zyx: pd.DataFrame({"tomogram": "t", "x": zyx[:, 2], "y": zyx[:, 1], "z": zyx[:, 0]})  # noqa: E731
    write_picks3d(table(balls[:3]), tmp_path / "labels.star")
    write_picks3d(table(shells[:2]), tmp_path / "rejected.csv")
    code, _, err = run_cli(["tomo", "train", tomo, "--coords", tmp_path / "labels.star", "--diameter", 70,
                            "--background-coords", tmp_path / "rejected.csv", "--steps", 40,
                            "-o", tmp_path / "m.cryopick"], capsys)
    assert code == 0, err
    assert "3 labelled particles in 1 of 1 tomogram(s); 2 background point(s) on them" in err
    assert (tmp_path / "m.cryopick").exists()
