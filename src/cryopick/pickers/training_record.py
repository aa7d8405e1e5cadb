"""The training record every trainer writes into its model file, and how old records are read.

One layout for every model kind (the ``training`` block of a ``.cryopick`` file)::

    kind      "fcn", "mlp" or "cnn"
    epochs    epochs trained (all rounds together)
    seconds   wall-clock seconds the training took
    config    the trainer's configuration, as plain values
    history   per-epoch columns, lists of equal length: at least ``epoch``,
              ``train_loss`` and ``val_loss`` (the held-out loss; for the FCN its
              held-out nnPU risk), then the trainer's own (``learning_rate``,
              ``seconds``, the FCN's ``round``, the patch classifiers' accuracies)
    ...       the trainer's own results (the FCN's prior, threshold, stop reasons;
              the patch classifiers' split sizes and final validation numbers)

:func:`make_training_record` writes it, for both trainers. :func:`training_record`
reads any record cryopick ever wrote into that layout: the FCN's records before it
(the bundled general model among them) kept the history as a list of per-epoch rows
and had no ``kind`` or ``epochs``; their columns keep the names they were written with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import Any

REQUIRED_COLUMNS: tuple[str, ...] = ("epoch", "train_loss", "val_loss")
"""Columns every history written by :func:`make_training_record` has."""

_OLD_FCN_TRAINER = "fcn-pu"
"""The ``trainer`` value of the FCN's records, which name no ``kind``."""


def make_training_record(kind: str, history: Sequence[Any], seconds: float, config: Mapping[str, Any], *,
                         renames: Mapping[str, str] | None = None, **extras: Any) -> dict[str, Any]:
    """The training record of one run, in the one layout (module docstring).

    Parameters
    ----------
    kind
        The model kind (``"fcn"``, ``"mlp"``, ``"cnn"``).
    history
        One dataclass instance per epoch, in order; each field becomes a column.
    seconds
        Wall-clock seconds the training took (stored as given).
    config
        The trainer's configuration as plain values.
    renames
        Field name -> column name, for fields whose name differs from the common one
        (the FCN's ``val_risk`` is the ``val_loss`` column).
    **extras
        The trainer's own entries, stored after the common ones.

    Returns
    -------
    dict
        ``kind``, ``epochs``, ``seconds``, ``config``, ``history`` and the extras.

    Raises
    ------
    ValueError
        If an epoch is not a dataclass, or the columns lack one of :data:`REQUIRED_COLUMNS`.
    """
    names = renames or {}
    columns: dict[str, list[Any]] = {}
    for row in history:
        if not is_dataclass(row) or isinstance(row, type):
            raise ValueError(f"history rows must be dataclass instances, got {type(row).__name__}")
        for f in fields(row):
            columns.setdefault(names.get(f.name, f.name), []).append(getattr(row, f.name))
    missing = [c for c in REQUIRED_COLUMNS if history and c not in columns]
    if missing:
        raise ValueError(f"the training history has no {', '.join(missing)} column")
    return {"kind": kind, "epochs": len(history), "seconds": seconds, "config": dict(config),
            "history": columns, **extras}


def training_record(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """A model file's training record in the one layout, whichever cryopick wrote it.

    A history of per-epoch rows (the FCN's old layout) becomes columns (a value a row
    lacks is None); ``epochs`` is filled in from the history and ``kind`` from the FCN's
    ``trainer`` entry when absent. Anything else is kept as it is; something that is not
    a mapping gives ``{}``.
    """
    if not isinstance(raw, Mapping):
        return {}
    record = dict(raw)
    history = record.get("history")
    if isinstance(history, Sequence) and not isinstance(history, str):
        rows = [row for row in history if isinstance(row, Mapping)]
        keys = list(dict.fromkeys(k for row in rows for k in row))
        record["history"] = {k: [row.get(k) for row in rows] for k in keys}
        record.setdefault("epochs", len(rows))
    if "kind" not in record and record.get("trainer") == _OLD_FCN_TRAINER:
        record["kind"] = "fcn"
    return record
