"""The networks and their model file.

``MODEL_KINDS`` maps the names used on the command line and in model files to classes:

* ``"fcn"``: :class:`~cryopick.models.fcn.ParticleFCN`, the fully convolutional picker:
  a whole working-scale image (N, 1, H, W) in, a map of logits (N, 1, H, W) out;
* ``"mlp"`` and ``"cnn"`` (``PATCH_MODEL_KINDS``): the report's patch classifiers
  :class:`~cryopick.models.mlp.ReportMLP` and :class:`~cryopick.models.vgg.ReportVGG`,
  patches (N, 64, 64) or (N, 1, 64, 64) in, logits (N, 1) out.

Every model exposes ``arch``: the keyword arguments that rebuild it (plain Python values,
stored in the model file).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from cryopick.errors import CryopickError
from cryopick.models.fcn import ParticleFCN
from cryopick.models.mlp import ReportMLP
from cryopick.models.vgg import ReportVGG

PATCH_MODEL_KINDS: dict[str, type[nn.Module]] = {"mlp": ReportMLP, "cnn": ReportVGG}
MODEL_KINDS: dict[str, type[nn.Module]] = {"fcn": ParticleFCN, **PATCH_MODEL_KINDS}


def build_model(kind: str, **arch: Any) -> nn.Module:
    """A freshly initialised model of ``kind`` ("fcn", "mlp" or "cnn") with architecture options ``arch``."""
    if kind not in MODEL_KINDS:
        raise CryopickError(f"unknown model kind {kind!r}", fix=f"use one of: {', '.join(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](**arch)
    except (TypeError, ValueError) as exc:
        raise CryopickError(f"bad architecture options for model {kind!r}: {exc}",
                            fix="use the defaults, or options the model accepts") from exc


__all__ = ["MODEL_KINDS", "PATCH_MODEL_KINDS", "ParticleFCN", "ReportMLP", "ReportVGG", "build_model"]
