"""cryopick.pickers.registry and the Picker interface: every kind resolves, and a new picker is one class plus one line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.micrographs import write_mrc
from cryopick.pickers import registry
from cryopick.pickers.base import Candidates, Picker, PickPlan, PickRequest, Prepared
from cryopick.preprocess import preprocess
from cryopick.runs.job import PickSpec, pick_one


def test_every_registered_kind_is_a_picker_with_a_config() -> None:
    for kind in registry.PICKERS:
        cls = registry.picker_class(kind)
        assert issubclass(cls, Picker)
        cls.config_type()  # its options have defaults
    assert not registry.picker_class("log").needs_model
    assert registry.picker_class("fcn").needs_model and registry.picker_class("cnn").needs_model


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(CryopickError, match="no picker for model kind 'nope'"):
        registry.picker_class("nope")
    with pytest.raises(CryopickError, match="unknown picker 'nope'"):
        PickSpec("nope", diameter_A=100.0)


@dataclass(frozen=True)
class CentreConfig:
    score: float = 0.75


class CentrePicker(Picker):
    """A picker that finds one particle: the darkest pixel of the working image."""

    config_type = CentreConfig
    needs_model = False

    @classmethod
    def plan(cls, request: PickRequest, loaded=None) -> PickPlan:
        return PickPlan(CentreConfig(), 0.5, calibrated=True)

    def prepare(self, mic, diameter_A=None) -> Prepared:
        return Prepared(mic.name, float(mic.apix), float(diameter_A), preprocess(mic, float(diameter_A)))

    def score(self, prepared: Prepared) -> np.ndarray:
        return -prepared.work.image

    def candidates(self, prepared: Prepared, scored: np.ndarray) -> Candidates:
        y, x = np.unravel_index(int(np.argmax(scored)), scored.shape)
        return Candidates(np.array([float(x)]), np.array([float(y)]), np.array([self.options.score]))


def test_a_new_picker_is_one_class_and_one_registry_line(tmp_path: Path, monkeypatch) -> None:
    """Registered under a new kind, a run picks with it: no edit in the job, the batch or the model file."""
    monkeypatch.setitem(registry.PICKERS, "centre", f"{__name__}:CentrePicker")
    image = np.zeros((200, 260), np.float32)
    image[100:112, 150:162] = -5.0  # one dark square around (155.5, 105.5)
    image += np.random.default_rng(0).normal(0, 0.1, image.shape).astype(np.float32)
    write_mrc(tmp_path / "m.mrc", image, 2.0)
    result = pick_one(PickSpec("centre", diameter_A=24.0), tmp_path / "m.mrc")
    (x, y, score) = result.picks[["x", "y", "score"]].to_numpy()[0]
    assert abs(x - 155.5) < 7 and abs(y - 105.5) < 7 and score == 0.75  # inside the square
    assert result.picks["diameter_px"].iloc[0] == pytest.approx(12.0)

