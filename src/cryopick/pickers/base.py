"""The picker interface: prepare a micrograph, score it, turn the scores into candidates, filter them.

Every picker is a subclass of :class:`Picker` registered by model kind in
:mod:`cryopick.pickers.registry`. A run (:mod:`cryopick.runs.job`) calls its four steps:

1. :meth:`Picker.prepare`: what needs no network (read-side work, such as bringing the
   micrograph to the working scale); a batch run does it for the next micrograph while
   the network runs on this one;
2. :meth:`Picker.score`: the score map(s) of the prepared image;
3. :meth:`Picker.candidates`: local maxima of the scores, in working-scale pixels;
4. :meth:`Picker.filter`: guards that drop candidates (junk regions, contrast, ...).

:meth:`Picker.pick_prepared` runs steps 2-4 and maps the candidates back to original
pixels as a Picks table. :meth:`Picker.plan` holds the picker's threshold rule: how a
requested threshold becomes the picker's own configuration, and whether every candidate
is then scored (so cutting afterwards gives the picker's own picks).

Adding a picker is one module with a subclass plus one line in the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from cryopick.io.micrographs import Micrograph
    from cryopick.models.checkpoint import LoadedModel


class WorkingImage(Protocol):
    """A micrograph at a picker's working scale (:class:`cryopick.preprocess.Preprocessed` is one)."""

    image: np.ndarray
    diameter_px: float

    def to_original(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class Prepared:
    """A micrograph read and prepared for scoring: its name, size and pixel size, and the picker's data."""

    name: str
    apix: float
    diameter_A: float
    work: Any


@dataclass
class Candidates:
    """Candidate positions (working-scale pixels, x = column, y = row) and their scores, strongest first."""

    x: np.ndarray
    y: np.ndarray
    score: np.ndarray

    @property
    def size(self) -> int:
        return int(self.x.size)

    def keep(self, mask: np.ndarray) -> Candidates:
        """The candidates where ``mask`` is True (order kept)."""
        return Candidates(self.x[mask], self.y[mask], self.score[mask])

    def first(self, n: int) -> Candidates:
        """The ``n`` strongest."""
        return Candidates(self.x[:n], self.y[:n], self.score[:n])


@dataclass(frozen=True)
class PickRequest:
    """What the user asked of picking, whatever the picker (each maps it to its own configuration).

    Attributes
    ----------
    threshold
        Keep picks scoring at least this; None: the picker's default.
    all_peaks
        Keep every candidate.
    tta
        Average the network over the 8 rotations and mirror images (fcn).
    junk_regions
        Drop candidates inside detected ice, carbon and other large dark regions (fcn).
    aggregate_guard
        Also drop picks whose neighbourhood says aggregate (fcn).
    border_bands
        Drop candidates in artefact bands along the edges: blank, padded or striped (fcn).
    """

    threshold: float | None = None
    all_peaks: bool = False
    tta: bool = False
    junk_regions: bool = True
    aggregate_guard: bool = False
    border_bands: bool = True


@dataclass(frozen=True)
class PickPlan:
    """A picker's answer to a :class:`PickRequest`: its configuration and how to read its scores.

    Attributes
    ----------
    options
        The picker's own configuration (e.g. :class:`cryopick.pickers.log.LoGConfig`).
    threshold
        The cut applied to the scores before writing.
    calibrated
        The scores are probabilities (the expected particle count is their sum).
    complete
        Every candidate is scored, so cutting at ``threshold`` afterwards gives the
        picker's own picks; False: only the picks above ``threshold`` are.
    note
        A line to tell the user about the plan, if any.
    """

    options: Any
    threshold: float
    calibrated: bool
    complete: bool = True
    note: str | None = None


class Picker(ABC):
    """One way of finding particles; see the module docstring for the four steps.

    Parameters
    ----------
    options
        The picker's configuration (its :attr:`config_type`); None: the defaults.
    loaded
        The model (None for pickers without one, see :attr:`needs_model`), on ``device``.
    device
        Where the network runs (a ``torch.device`` or its name).
    """

    config_type: ClassVar[type]
    """The dataclass of the picker's options."""
    needs_model: ClassVar[bool] = True
    """Whether the picker needs a model file."""

    def __init__(self, options: Any = None, loaded: LoadedModel | None = None, device: Any = "cpu") -> None:
        self.options = self.config_type() if options is None else options
        self.loaded = loaded
        self.device = device

    @classmethod
    @abstractmethod
    def plan(cls, request: PickRequest, loaded: LoadedModel | None) -> PickPlan:
        """The picker's configuration, threshold and reading of scores for ``request``."""

    def picking_diameter_A(self, diameter_A: float | None) -> float:
        """The diameter picked at: the one given, else the model's."""
        if diameter_A is not None:
            return float(diameter_A)
        if self.loaded is None:
            from cryopick.errors import CryopickError

            raise CryopickError("this picker needs the particle size", fix="pass --diameter in Å")
        return float(self.loaded.diameter_A)

    @abstractmethod
    def prepare(self, mic: Micrograph, diameter_A: float | None = None) -> Prepared:
        """What needs no network: the micrograph at the working scale."""

    @abstractmethod
    def score(self, prepared: Prepared) -> Any:
        """The score map(s) of a prepared micrograph."""

    @abstractmethod
    def candidates(self, prepared: Prepared, scored: Any) -> Candidates:
        """Local maxima of the scores, in working-scale pixels, strongest first."""

    def filter(self, prepared: Prepared, scored: Any, candidates: Candidates) -> Candidates:
        """Drop candidates that guards reject; none by default."""
        return candidates

    def pick_prepared(self, prepared: Prepared) -> pd.DataFrame:
        """Score, find candidates, filter: a Picks table in original pixels, strongest first."""
        scored = self.score(prepared)
        found = self.filter(prepared, scored, self.candidates(prepared, scored))
        return to_picks(prepared, found)

    def pick(self, mic: Micrograph, diameter_A: float | None = None) -> pd.DataFrame:
        """All four steps on one micrograph."""
        return self.pick_prepared(self.prepare(mic, diameter_A))


def to_picks(prepared: Prepared, found: Candidates) -> pd.DataFrame:
    """Candidates at working scale as a Picks table in the original micrograph's pixels."""
    from cryopick.io.picks import empty_picks, make_picks

    if found.size == 0:
        return empty_picks()
    x_orig, y_orig = prepared.work.to_original(found.x, found.y)
    return make_picks(prepared.name, x_orig, y_orig, found.score, prepared.diameter_A / prepared.apix)
