"""Which picker picks with which model kind: one line per picker.

A key is a model kind as model files record it (``"fcn"``, ``"mlp"``, ``"cnn"``), or the
name of a picker that needs no model (``"log"``). A value is the module and class of a
:class:`~cryopick.pickers.base.Picker`, imported only when that picker is used (so the
command line starts without torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from cryopick.errors import CryopickError

if TYPE_CHECKING:
    from cryopick.pickers.base import Picker

PICKERS: dict[str, str] = {
    "log": "cryopick.pickers.log:LoGPicker",
    "fcn": "cryopick.pickers.fcn.picker:FCNPicker",
    "mlp": "cryopick.pickers.patch.sliding_window:WindowPicker",
    "cnn": "cryopick.pickers.patch.sliding_window:WindowPicker",
}


def picker_class(kind: str) -> type[Picker]:
    """The :class:`~cryopick.pickers.base.Picker` subclass for a model kind (or ``"log"``)."""
    if kind not in PICKERS:
        raise CryopickError(f"no picker for model kind {kind!r}", fix=f"use one of {', '.join(PICKERS)}")
    module, name = PICKERS[kind].split(":")
    return getattr(import_module(module), name)
