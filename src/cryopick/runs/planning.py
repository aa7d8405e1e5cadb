"""How a pick run picks: the picker chosen for the model, its threshold rule, and what a resume must match.

:func:`plan_model` and :func:`plan_log` turn what the user asked (a model file or the
bundled general model, or the LoG picker; a :class:`~cryopick.pickers.base.PickRequest`)
into a :class:`RunPlan`: the :class:`~cryopick.runs.job.PickSpec` every worker gets, the
threshold applied before writing, and how the scores are read. The picker's own
:meth:`~cryopick.pickers.base.Picker.plan` holds its threshold rule.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from cryopick.errors import CryopickError
from cryopick.pickers.base import PickRequest
from cryopick.pickers.registry import picker_class
from cryopick.runs.job import PickSpec


@dataclass(frozen=True)
class RunPlan:
    """How the micrographs are picked: the spec every worker gets, and the threshold applied before writing.

    ``spec`` gives every candidate when ``complete``; otherwise (a threshold where
    cutting afterwards would not reproduce the picker's own cut) only the picks.
    """

    spec: PickSpec
    threshold: float
    diameter_A: float
    calibrated: bool
    complete: bool = True
    note: str | None = None
    model_line: str | None = None
    model_sha256: str | None = None
    threshold_from: str = "--threshold"
    picked_by: str = "the LoG picker"


def model_checksum(path: str | Path) -> str:
    """The SHA-256 of a model file, as a pick run records it (``model_sha256``) and a report compares it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def plan_log(diameter_A: float | None, request: PickRequest) -> RunPlan:
    """The LoG picker (no model): its threshold rule is :meth:`cryopick.pickers.log.LoGPicker.plan`."""
    if diameter_A is None:
        raise CryopickError("the LoG picker needs the particle size", fix="pass --diameter in Å")
    plan = picker_class("log").plan(request, None)
    spec = PickSpec("log", diameter_A=diameter_A, options=plan.options)
    origin = "--threshold" if request.threshold is not None else "the LoG picker's automatic cut, a robust z-score"
    return RunPlan(spec, plan.threshold, diameter_A, plan.calibrated, plan.complete, plan.note,
                   threshold_from=origin, picked_by="the LoG picker")


def plan_model(model: Path | None, diameter_A: float | None, request: PickRequest, device: str) -> RunPlan:
    """A model's picker (``model`` None: the bundled general model), by the kind its file records.

    Reads the model file once here (to fail early on a bad one, and for its checksum);
    every worker loads it again.
    """
    from cryopick.device import device_line, resolve_device
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.fcn.general import general_model_path, is_general

    model_file = model if model is not None else general_model_path()
    loaded = load_model(model_file)
    checksum = model_checksum(model_file)
    if is_general(loaded.training) and diameter_A is None:
        raise CryopickError("a general model picks any particle size and needs yours", path=model,
                            fix="pass --diameter in Å")
    torch_device = resolve_device(device)
    plan = picker_class(loaded.kind).plan(request, loaded)
    spec = PickSpec(loaded.kind, str(model_file), diameter_A, options=plan.options, device=str(torch_device))
    picked_by = "the bundled general model" if model is None else f"model {Path(model).name} ({loaded.kind})"
    origin = ("--threshold" if request.threshold is not None
              else f"the model's own, chosen at training and stored in {'its' if model is None else 'the'} file")
    return RunPlan(spec, plan.threshold, loaded.diameter_A if diameter_A is None else diameter_A, plan.calibrated,
                   plan.complete, plan.note, _model_line(model, loaded, diameter_A, device_line(device, torch_device)),
                   checksum, threshold_from=origin, picked_by=picked_by)


def _model_line(model: Path | None, loaded, diameter_A: float | None, on_device: str | None) -> str:
    """What is said after picking about the model (and where it ran, when left to us)."""
    if model is None:
        line = (f"model: the bundled general model (no labels needed), picking at {diameter_A:g} Å "
                "(docs/general_model.md; train your own with `cryopick train`)")
    else:
        line = (f"model {model.name}: {loaded.kind}, trained at {loaded.diameter_A:g} Å"
                + (f", picking at {diameter_A:g} Å" if diameter_A is not None else ""))
    return line if on_device is None else f"{on_device}\n{line}"


def fingerprint(plan: RunPlan, version: str) -> dict:
    """What must match for a run to resume another: the spec (not the device) and the model's bytes."""
    spec = asdict(plan.spec)
    for how in ("device", "threads", "allow_nonfinite"):  # they change no finished micrograph's picks
        spec.pop(how)
    spec["model_path"] = None
    return {**spec, "model_sha256": plan.model_sha256, "cryopick": version}
