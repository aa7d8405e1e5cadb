"""cryopick.pickers.fcn.trainer: `cryopick train --model fcn`'s options as a training configuration, and --init."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cryopick.errors import CryopickError
from cryopick.models import build_model
from cryopick.models.checkpoint import load_model, save_model
from cryopick.models.fcn import ParticleFCN
from cryopick.pickers.fcn.general import general_model_path
from cryopick.pickers.fcn.trainer import GENERAL_INIT, fcn_train_config, initial_network
from tests.pickers.conftest import job


def test_options_become_the_fcn_training_configuration() -> None:
    fcn = fcn_train_config(job(epochs=7, validation_fraction=0.2, prior=0.01, rotate=False, seed=3, device="cpu"))
    assert (fcn.max_epochs, fcn.validation_fraction, fcn.prior, fcn.rotate, fcn.seed, fcn.device) == (
        7, 0.2, 0.01, False, 3, "cpu")
    default = fcn_train_config(job())
    assert (default.max_epochs, default.validation_fraction, default.default_threshold) == (40, 0.15, 0.3)


def test_init_general_starts_from_the_bundled_model_and_its_threshold() -> None:
    lines: list[str] = []
    initial = initial_network(GENERAL_INIT, lines.append)
    general = load_model(general_model_path())
    assert isinstance(initial.network, ParticleFCN) and initial.network.arch == general.arch
    assert initial.threshold == pytest.approx(general.threshold) and initial.source == "general"
    assert lines == ["starting from the bundled general model"]
    assert fcn_train_config(job(), initial).default_threshold == initial.threshold


def test_init_from_a_model_file(tmp_path: Path) -> None:
    fcn_file = tmp_path / "mine.cryopick"
    save_model(fcn_file, ParticleFCN.for_diameter(16.0), kind="fcn", diameter_A=120.0, threshold=0.42)
    lines: list[str] = []
    initial = initial_network(str(fcn_file), lines.append)
    assert (initial.threshold, initial.source, lines) == (0.42, str(fcn_file), [f"starting from {fcn_file}"])
    mlp_file = tmp_path / "mlp.cryopick"
    save_model(mlp_file, build_model("mlp"), kind="mlp", diameter_A=120.0)
    with pytest.raises(CryopickError, match=re.escape("--init needs a fully convolutional model, this is a 'mlp'")) \
            as caught:
        initial_network(str(mlp_file))
    assert caught.value.path == mlp_file and "--init general" in caught.value.fix
