"""The 3D model file: the network's weights with what picking needs (diameter, threshold, guard, training record).

A plain dictionary saved with :func:`torch.save` and read with ``weights_only=True`` (no
code runs on loading), marked ``kind: "tomo-fcn"`` so a 2D model given by mistake is
one clear error. Files written before the dense-object guard (:mod:`cryopick.tomo.guard`)
have no ``dense_polarity``/``dense_limit`` and load with no guard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path
from cryopick.tomo.network import TomoFCN

KIND = "tomo-fcn"
FIX = "give a model file written by `cryopick tomo train`"


@dataclass
class TomoModel:
    """A trained 3D picker: the network, the particle diameter it was trained at, its threshold, its record.

    ``dense_polarity`` and ``dense_limit`` are the dense-object guard measured on the
    training labels (:func:`cryopick.tomo.guard.dense_limit`); None: no guard.
    """

    network: TomoFCN
    diameter_A: float
    threshold: float
    training: dict[str, Any] = field(default_factory=dict)
    dense_polarity: float | None = None
    dense_limit: float | None = None


def save_tomo_model(path: str | Path, model: TomoModel) -> Path:
    """Write ``model`` atomically."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"kind": KIND, "channels": model.network.channels, "dilations": list(model.network.dilations),
               "state_dict": model.network.state_dict(), "diameter_A": float(model.diameter_A),
               "threshold": float(model.threshold), "training": model.training}
    if model.dense_limit is not None and model.dense_polarity is not None:
        payload.update(dense_polarity=float(model.dense_polarity), dense_limit=float(model.dense_limit))
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_tomo_model(path: str | Path) -> TomoModel:
    """Read a model written by :func:`save_tomo_model`; one clear error for anything else."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CryopickError("does not exist", path=path, fix="check the path")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - torch raises many kinds on a damaged file
        raise CryopickError("not a cryopick tomogram model (PyTorch cannot read it as plain data)", path=path,
                            fix=FIX) from None
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        raise CryopickError("is not a tomogram model (a 2D model? those pick micrographs)", path=path, fix=FIX)
    network = TomoFCN(int(payload["channels"]), tuple(payload["dilations"]))
    network.load_state_dict(payload["state_dict"])
    network.eval()
    guard = [float(payload[k]) if payload.get(k) is not None else None for k in ("dense_polarity", "dense_limit")]
    return TomoModel(network, float(payload["diameter_A"]), float(payload["threshold"]), dict(payload["training"]),
                     *guard)
