"""The bundled general model: it loads with no network, picks unseen structures with no labels, and fine-tunes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli.test_cli import assert_one_line_error, run_cli
from cryopick.errors import CryopickError
from cryopick.evaluation.metrics import evaluate
from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn
from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.pickers.fcn.general import (
    DEFAULT_CONDITIONS,
    GeneralRecipe,
    general_model_path,
    is_general,
    train_general_model,
)
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import read_micrograph
from cryopick.models.checkpoint import load_model
from cryopick.models.fcn import ParticleFCN
from cryopick.simulate import SimulationConfig, simulate_dataset
from cryopick.simulate.structures import load_structure

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ZERO_LABEL_F1_FLOOR = 0.8
"""Measured 0.94 on this micrograph (globular, never trained on; 0.93 and 0.99 at simulation seeds 12, 13)."""


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails, as on a machine with no network."""

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def unseen(tmp_path_factory) -> Path:
    """Two micrographs of a structure the general model never saw (globular), with junk."""
    out = tmp_path_factory.mktemp("unseen")
    config = SimulationConfig.with_presets(junk="some", n_micrographs=2, shape=(768, 896), apix=3.0,
                                           structures=("globular",), label_fraction=0.2, seed=11)
    simulate_dataset(out, config)
    return out


def test_the_bundled_model_ships_in_the_package_and_loads_with_no_network(no_network: None) -> None:
    path = general_model_path()
    assert path.suffix == ".cryopick" and path.stat().st_size < 5 * 2**20
    loaded = load_model(path)
    assert loaded.kind == "fcn" and isinstance(loaded.model, ParticleFCN)
    assert is_general(loaded.training)
    recipe = loaded.training["recipe"]
    assert not {"globular", "ring7", "dumbbell"} & set(recipe["structures"])  # the benchmark structures are unseen


def test_zero_labels_pick_an_unseen_structure(unseen: Path, no_network: None) -> None:
    loaded = load_model(general_model_path())
    diameter_A = load_structure("globular").diameter_A
    mic = read_micrograph(unseen / "micrographs" / "mic_0000.mrc")
    picks = pick_fcn(mic, loaded, diameter_A, FCNPickConfig(threshold=0.0))
    truth = read_coords(unseen / "truth.star")
    truth = truth.loc[truth["micrograph"] == mic.name]
    result = evaluate(picks, truth, diameter_A / 3.0 / 2, threshold=loaded.threshold)
    assert result.f1 >= ZERO_LABEL_F1_FLOOR, result.to_dict(max_curve_points=0)


def test_cli_picks_with_the_general_model_when_no_model_is_given(unseen: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "picks.star"
    mic = unseen / "micrographs" / "mic_0001.mrc"
    code, stdout, err = run_cli(["pick", mic, "--diameter", 116, "-o", out], capsys)
    assert code == 0, err
    assert "bundled general model" in stdout + err
    assert len(read_coords(out)) > 50
    code, _, err = run_cli(["pick", mic, "-o", out], capsys)
    assert_one_line_error(code, err, "--diameter")


def test_fine_tuning_starts_from_the_general_model(unseen: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tuned.cryopick"
    mic = unseen / "micrographs" / "mic_0000.mrc"
    code, stdout, err = run_cli(["train", mic, "--coords", unseen / "labels.star", "--diameter", 116,
                                 "--init", "general", "--epochs", 2, "-o", out], capsys)
    assert code == 0, err
    assert "starting from the bundled general model" in stdout + err
    tuned, general = load_model(out), load_model(general_model_path())
    assert tuned.training["init"] == "general" and not is_general(tuned.training)
    assert tuned.arch == general.arch
    assert tuned.threshold <= general.threshold  # it starts from the general model's threshold
    code, _, err = run_cli(["train", mic, "--coords", unseen / "labels.star", "--diameter", 116,
                            "--init", unseen / "labels.star", "-o", out], capsys)
    assert_one_line_error(code, err, "labels.star")


def test_the_recipe_retrains_a_general_model_from_scratch(tmp_path: Path) -> None:
    recipe = GeneralRecipe(structures=("small",), conditions=DEFAULT_CONDITIONS[:1], micrographs_per_condition=1,
                           train=FCNTrainConfig(rounds=1, clean_fraction=0.0, max_epochs=1, min_epochs=1))
    out = tmp_path / "general.cryopick"
    result = train_general_model(recipe, tmp_path / "work", out)
    assert 0 < result.prior < 0.1 and result.n_labels > 50
    loaded = load_model(out)
    assert is_general(loaded.training) and loaded.training["recipe"]["structures"] == ["small"]
    assert (tmp_path / "work" / "small_0" / "junk_masks").is_dir()  # junk was known background


def test_a_bad_recipe_is_a_user_error() -> None:
    with pytest.raises(CryopickError):
        GeneralRecipe(structures=())


def test_junk_regions_can_be_turned_off_and_the_aggregate_guard_on(unseen: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    mic = unseen / "micrographs" / "mic_0000.mrc"
    counts = {}
    for name, extra in (("default", []), ("no regions", ["--no-junk-regions"]), ("aggregates", ["--aggregate-guard"])):
        out = tmp_path / f"{len(counts)}.star"
        code, _, err = run_cli(["pick", mic, "--diameter", 116, *extra, "-o", out], capsys)
        assert code == 0, err
        counts[name] = len(read_coords(out))
    assert counts["no regions"] >= counts["default"] >= counts["aggregates"] > 0.9 * counts["default"]
