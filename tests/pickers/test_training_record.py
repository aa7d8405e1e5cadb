"""Tests for cryopick.pickers.training_record: one layout for every trainer's record, old records read into it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest

from cryopick.pickers.training_record import REQUIRED_COLUMNS, make_training_record, training_record

COMMON_KEYS = {"kind", "epochs", "seconds", "config", "history"}


@dataclass
class Row:
    epoch: int
    train_loss: float
    val_risk: float


def test_the_record_has_the_common_layout_with_renamed_columns_and_extras() -> None:
    record = make_training_record("fcn", [Row(1, 0.5, 0.4), Row(2, 0.3, 0.2)], 1.5, {"lr": 0.1},
                                  renames={"val_risk": "val_loss"}, prior=0.02)
    assert record == {"kind": "fcn", "epochs": 2, "seconds": 1.5, "config": {"lr": 0.1},
                      "history": {"epoch": [1, 2], "train_loss": [0.5, 0.3], "val_loss": [0.4, 0.2]}, "prior": 0.02}
    json.dumps(record)


def test_the_record_needs_the_common_columns_and_dataclass_rows() -> None:
    with pytest.raises(ValueError, match="val_loss"):
        make_training_record("fcn", [Row(1, 0.5, 0.4)], 1.0, {})
    with pytest.raises(ValueError, match="dataclass"):
        make_training_record("mlp", [{"epoch": 1}], 1.0, {})
    assert make_training_record("mlp", [], 0.0, {})["history"] == {}


def test_old_fcn_records_are_read_into_the_layout() -> None:
    old = {"trainer": "fcn-pu", "seconds": 3.0,
           "history": [{"round": 1, "epoch": 1, "train_loss": 0.3, "val_risk": 0.2},
                       {"round": 2, "epoch": 1, "train_loss": 0.25}]}
    record = training_record(old)
    assert record["kind"] == "fcn" and record["epochs"] == 2 and record["seconds"] == 3.0
    assert record["history"] == {"round": [1, 2], "epoch": [1, 1], "train_loss": [0.3, 0.25], "val_risk": [0.2, None]}
    assert old["history"][0]["val_risk"] == 0.2  # the caller's record is left alone


def test_records_in_the_layout_and_odd_input_pass_through() -> None:
    new = make_training_record("mlp", [Row(1, 0.5, 0.4)], 1.0, {}, renames={"val_risk": "val_loss"})
    assert training_record(new) == new
    assert training_record(None) == {} and training_record("x") == {}  # type: ignore[arg-type]
    assert training_record({"epochs": 2}) == {"epochs": 2}


def test_the_bundled_general_model_reads_into_the_layout() -> None:
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.fcn.general import general_model_path

    record = training_record(load_model(general_model_path()).training)
    assert COMMON_KEYS <= set(record) and record["kind"] == "fcn"
    lengths = {len(v) for v in record["history"].values()}
    assert lengths == {record["epochs"]} and record["epochs"] > 0


def test_both_trainers_write_the_common_layout() -> None:
    torch = pytest.importorskip("torch")
    from cryopick.models.fcn import ParticleFCN
    from cryopick.pickers.fcn.config import EpochRecord, FCNTrainConfig, FCNTrainResult
    from cryopick.pickers.patch.train import PatchTrainConfig, train_classifier

    class Patches:
        rng = np.random.default_rng(0)
        patches = rng.random((40, 64, 64), dtype=np.float32)
        labels = np.r_[np.ones(20), np.zeros(20)].astype(np.float32)
        groups = np.arange(40)

    torch.manual_seed(0)
    patch = train_classifier(Patches(), PatchTrainConfig(epochs=2, device="cpu")).summary()
    history = [EpochRecord(1, e, 0.5 / e, 0.4 / e, 1e-3, float(e)) for e in (1, 2, 3)]
    fcn = FCNTrainResult(ParticleFCN.for_diameter(16.0, 1.5), history, 0.02, 100.0, 20, 1, 0.4, ["max"], 2.0,
                         FCNTrainConfig()).summary()
    for record, kind, n in ((patch, "mlp", 2), (fcn, "fcn", 3)):
        assert COMMON_KEYS <= set(record) and record["kind"] == kind and record["epochs"] == n
        assert set(REQUIRED_COLUMNS) <= set(record["history"])
        assert {len(v) for v in record["history"].values()} == {n}
        assert training_record(record) == record
    assert fcn["history"]["val_loss"] == [r.val_risk for r in history] and fcn["trainer"] == "fcn-pu"
    assert math.isfinite(patch["val_loss"]) and patch["n_train"] + patch["n_val"] == 40
