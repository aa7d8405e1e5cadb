"""The .cryopick model file: round trip, picking settings, and refusing what is not one."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict

import numpy as np
import pytest
import torch

import cryopick
from cryopick.errors import CryopickError
from cryopick.models import build_model
from cryopick.models.checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    load_model,
    save_model,
)
from cryopick.pickers.patch.train import predict_proba

PATCH_CONFIG = {"patch_px": 64, "box_diameters": 1.35, "scheme": "b", "highpass_diameters": None, "seed": 0}


def _model(kind: str, **arch):
    torch.manual_seed(0)
    return build_model(kind, **arch).eval()


def _save(path, model, kind, **overrides):
    options = {"kind": kind, "patch_config": PATCH_CONFIG, "diameter_A": 150.0, "training": {"epochs": 3}}
    save_model(path, model, **{**options, **overrides})


@pytest.mark.parametrize("kind,arch", [("mlp", {}), ("cnn", {"channels": (4, 8, 16, 32, 64), "dense": 16})])
def test_round_trip_keeps_predictions_and_settings(tmp_path, kind, arch):
    model = _model(kind, **arch)
    training = {"epochs": 2, "seconds": 1.5, "n_train": 90, "n_val": 10, "val_accuracy": 0.95,
                "history": {"val_loss": [0.5, np.float32(0.25)], "learning_rate": np.array([1e-3, 9e-4])},
                "config": {"arch": {"channels": (1, 2)}, "device": "cpu"}}
    path = tmp_path / "sub" / f"{kind}.cryopick"
    save_model(path, model, kind=kind, arch=model.arch, patch_config=PATCH_CONFIG, diameter_A=152.5,
               threshold=0.7, training=training)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    loaded = load_model(path)
    assert loaded.kind == kind and not loaded.model.training
    assert loaded.arch == model.arch
    assert loaded.settings["patch_config"] == PATCH_CONFIG
    assert (loaded.diameter_A, loaded.threshold, loaded.settings["stride_fraction"]) == (152.5, 0.7, 0.2)
    assert loaded.training["history"] == {"val_loss": [0.5, 0.25], "learning_rate": [1e-3, 9e-4]}
    assert loaded.training["config"]["arch"]["channels"] == [1, 2]
    assert loaded.cryopick_version == cryopick.__version__ and loaded.format_version == FORMAT_VERSION
    patches = np.random.default_rng(1).random((20, 64, 64), dtype=np.float32)
    np.testing.assert_array_equal(predict_proba(loaded.model, patches), predict_proba(model, patches))


def test_arch_defaults_to_the_models_and_real_patch_config_is_storable(tmp_path):
    from cryopick.pickers.patch.patches import PatchConfig

    model = _model("cnn")
    path = tmp_path / "m.cryopick"
    save_model(path, model, kind="cnn", patch_config=asdict(PatchConfig()), diameter_A=100.0, training={})
    loaded = load_model(path)
    assert loaded.arch == model.arch and loaded.threshold == 0.8
    assert PatchConfig(**loaded.settings["patch_config"]) == PatchConfig()


def test_training_info_from_a_real_run_round_trips(tmp_path):
    from cryopick.pickers.patch.train import PatchTrainConfig, train_classifier

    class Patches:
        rng = np.random.default_rng(0)
        patches = rng.random((40, 64, 64), dtype=np.float32)
        labels = np.r_[np.ones(20), np.zeros(20)].astype(np.float32)
        groups = np.arange(40)

    result = train_classifier(Patches(), PatchTrainConfig(epochs=2, device="cpu"))
    path = tmp_path / "run.cryopick"
    save_model(path, result.model, kind="mlp", arch=result.arch, patch_config=PATCH_CONFIG,
               diameter_A=120.0, training=result.summary())
    training = load_model(path).training
    assert training["epochs"] == 2 and training["n_val"] == result.n_val
    assert training["history"]["train_loss"] == [h.train_loss for h in result.history]


def test_saving_checks_its_inputs(tmp_path):
    model = _model("mlp")
    path = tmp_path / "m.cryopick"
    with pytest.raises(CryopickError, match="unknown model kind"):
        _save(path, model, "svm")
    with pytest.raises(CryopickError, match="diameter"):
        _save(path, model, "mlp", diameter_A=math.nan)
    with pytest.raises(CryopickError, match="threshold"):
        _save(path, model, "mlp", threshold=1.5)
    with pytest.raises(TypeError, match="training.when"):
        _save(path, model, "mlp", training={"when": object()})
    with pytest.raises(RuntimeError):  # weights of a CNN declared as an MLP
        _save(path, _model("cnn"), "mlp", arch={})
    assert not path.exists() and not list(tmp_path.iterdir())


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(CryopickError, match="nope.cryopick: model file not found; fix: give a model file"):
        load_model(tmp_path / "nope.cryopick")
    with pytest.raises(CryopickError, match="is a folder"):
        load_model(tmp_path)


def test_random_bytes_and_plain_torch_files_are_refused(tmp_path):
    junk = tmp_path / "junk.cryopick"
    rng = np.random.default_rng(0)
    junk.write_bytes(b"\x80\x83" + bytes(20))  # "pickle protocol 131": torch warns, we stay quiet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # record rather than raise, so a warning cannot hide as an error
        with pytest.raises(CryopickError, match="not a cryopick model file"):
            load_model(junk)
    assert not caught
    for size in (1, 2, 10, 4096, 4096, 4096):
        junk.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        with pytest.raises(CryopickError, match="not a cryopick model file"):
            load_model(junk)
    junk.write_bytes(b"PK\x03\x04" + rng.integers(0, 256, 500, dtype=np.uint8).tobytes())  # a broken zip
    with pytest.raises(CryopickError, match="not a cryopick model file"):
        load_model(junk)
    empty = tmp_path / "empty.cryopick"
    empty.write_bytes(b"")
    with pytest.raises(CryopickError, match="not a cryopick model file"):
        load_model(empty)
    state = tmp_path / "state.pt"
    torch.save(_model("mlp").state_dict(), state)
    with pytest.raises(CryopickError, match="no cryopick format marker"):
        load_model(state)
    pickled_module = tmp_path / "module.pt"
    torch.save(_model("mlp"), pickled_module)  # would need code execution to load
    with pytest.raises(CryopickError, match="not a cryopick model file"):
        load_model(pickled_module)


def _edit(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_newer_and_damaged_files(tmp_path):
    path = tmp_path / "m.cryopick"
    _save(path, _model("mlp"), "mlp")
    _edit(path, lambda p: p.update(format_version=FORMAT_VERSION + 1, cryopick_version="9.0"))
    with pytest.raises(CryopickError, match=r"newer.*cryopick 9\.0.*fix: upgrade cryopick"):
        load_model(path)

    _save(path, _model("mlp"), "mlp")
    _edit(path, lambda p: p["state_dict"].pop("layers.1.weight"))
    with pytest.raises(CryopickError, match="incomplete or damaged.*fix: train the model again"):
        load_model(path)

    _save(path, _model("mlp"), "mlp")
    _edit(path, lambda p: p.pop("picking"))
    with pytest.raises(CryopickError, match="incomplete or damaged"):
        load_model(path)

    _save(path, _model("mlp"), "mlp")
    _edit(path, lambda p: p.update(kind="transformer"))
    with pytest.raises(CryopickError, match="incomplete or damaged.*unknown model kind"):
        load_model(path)

    _save(path, _model("mlp"), "mlp")
    _edit(path, lambda p: p.update(format_version="1"))
    with pytest.raises(CryopickError, match="invalid format version"):
        load_model(path)
    assert torch.load(path, weights_only=True)["format"] == FORMAT_NAME
