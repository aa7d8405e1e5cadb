"""The 3D model file: the guard round-trips, a file from before the guard loads with none, a 2D model is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from cryopick.errors import CryopickError  # noqa: E402
from cryopick.tomo.model_file import KIND, TomoModel, load_tomo_model, save_tomo_model  # noqa: E402
from cryopick.tomo.network import TomoFCN  # noqa: E402


def _model(**guard: float) -> TomoModel:
    torch.manual_seed(0)
    return TomoModel(TomoFCN().eval(), diameter_A=150.0, threshold=0.3, training={"steps": 5}, **guard)


def test_the_guard_and_threshold_round_trip(tmp_path: Path) -> None:
    back = load_tomo_model(save_tomo_model(tmp_path / "m.cryopick", _model(dense_polarity=-1.0, dense_limit=42.5)))
    assert (back.dense_polarity, back.dense_limit, back.threshold, back.diameter_A) == (-1.0, 42.5, 0.3, 150.0)
    assert back.training == {"steps": 5}


def test_a_model_file_from_before_the_guard_loads_with_no_guard(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "old.cryopick"
    # the payload as files were written before the guard existed: no dense_* keys at all
    torch.save({"kind": KIND, "channels": model.network.channels, "dilations": list(model.network.dilations),
                "state_dict": model.network.state_dict(), "diameter_A": 150.0, "threshold": 0.3, "training": {}},
               path)
    back = load_tomo_model(path)
    assert back.dense_polarity is None and back.dense_limit is None
    assert back.network.state_dict()["body.0.weight"].equal(model.network.state_dict()["body.0.weight"])


def test_a_2d_model_or_a_damaged_file_is_one_clear_error(tmp_path: Path) -> None:
    flat = tmp_path / "flat.cryopick"
    torch.save({"kind": "fcn", "state_dict": {}}, flat)
    with pytest.raises(CryopickError, match="not a tomogram model"):
        load_tomo_model(flat)
    broken = tmp_path / "broken.cryopick"
    broken.write_bytes(b"not a model")
    with pytest.raises(CryopickError, match="cannot read it"):
        load_tomo_model(broken)
