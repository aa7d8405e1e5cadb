"""cryopick.pickers.fcn.config: FCNTrainConfig refuses impossible settings and stores as plain values."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from cryopick.errors import CryopickError
from cryopick.pickers.fcn.config import FCNTrainConfig


@pytest.mark.parametrize("bad", [{"rounds": 3}, {"rounds": 0}, {"prior": 1.5}, {"prior": 0.0}, {"prior": 1.0},
                                 {"validation_fraction": 0.6}, {"validation_fraction": 0.5},
                                 {"validation_fraction": -0.1}, {"max_epochs": 0}, {"patience": 0},
                                 {"loss": "hinge"}, {"label_recall": 0.0}, {"label_recall": 1.5},
                                 {"stride": 3}, {"background_weight": 1.0}, {"background_weight": -0.1},
                                 {"default_threshold": 0.0}, {"default_threshold": 1.0}])
def test_config_rejects_impossible_settings(bad):
    with pytest.raises(CryopickError) as err:
        FCNTrainConfig(**bad)
    assert err.value.fix


@pytest.mark.parametrize("ok", [{}, {"rounds": 1}, {"prior": 0.02}, {"validation_fraction": 0.0},
                                {"validation_fraction": 0.45}, {"loss": "sigmoid"}, {"rotate": False},
                                {"label_recall": 1.0}, {"stride": 1}, {"background_weight": 0.2},
                                {"default_threshold": 0.386}, {"background_crops_per_batch": 0}])
def test_config_accepts_sensible_settings(ok):
    config = FCNTrainConfig(**ok)
    json.dumps(asdict(config))  # stored in the model file as plain values
