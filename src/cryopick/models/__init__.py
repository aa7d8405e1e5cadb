"""The report's patch classifiers and their model file.

``MODEL_KINDS`` maps the names used on the command line and in model files to classes:
``"mlp"`` is :class:`~cryopick.models.mlp.ReportMLP`, ``"cnn"`` is
:class:`~cryopick.models.vgg.ReportVGG`. Every model takes patches (N, 64, 64) or
(N, 1, 64, 64) and returns logits (N, 1), and exposes ``arch``: the keyword arguments that
rebuild it (plain Python values, stored in the model file).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from cryopick.errors import CryopickError
from cryopick.models.mlp import ReportMLP
from cryopick.models.vgg import ReportVGG

MODEL_KINDS: dict[str, type[nn.Module]] = {"mlp": ReportMLP, "cnn": ReportVGG}


def build_model(kind: str, **arch: Any) -> nn.Module:
    """A freshly initialised model of ``kind`` ("mlp" or "cnn") with architecture options ``arch``."""
    if kind not in MODEL_KINDS:
        raise CryopickError(f"unknown model kind {kind!r}", fix=f"use one of: {', '.join(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](**arch)
    except (TypeError, ValueError) as exc:
        raise CryopickError(f"bad architecture options for model {kind!r}: {exc}",
                            fix="use the defaults, or options the model accepts") from exc


__all__ = ["MODEL_KINDS", "ReportMLP", "ReportVGG", "build_model"]
