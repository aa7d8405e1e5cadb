"""What to simulate: :class:`SimulationConfig`, one frozen dataclass, and its presets."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cryopick.errors import CryopickError
from cryopick.simulate.nuisances import JunkConfig, junk_preset

SIMULATOR_VERSION = 1
"""Bumped whenever the same config would give different pixels; part of the config hash."""

CROWDING_PRESETS: dict[str, tuple[float, float]] = {
    "sparse": (0.03, 0.0),
    "normal": (0.15, 0.03),
    "crowded": (0.40, 0.25),
}
"""``name: (particle_area_fraction, touching_fraction)``."""

LABEL_FIELDS = ("label_fraction", "wrong_label_fraction")
"""Fields that change only the label files, not the micrographs or their truth."""


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that decides a simulated dataset; the same config and seed give the same files.

    Attributes
    ----------
    n_micrographs
        How many micrographs. Micrograph ``i`` is the same whatever this number is.
    shape
        ``(ny, nx)`` in pixels (rows, columns); need not be square.
    apix
        Pixel size in Å/px.
    structures
        Builtin structure names or paths to PDB/mmCIF/MRC files; each particle is one of
        them, chosen uniformly. Empty: the first builtin.
    apix_map
        Voxel size (Å) of density maps among ``structures`` whose header lacks one.
    particle_area_fraction
        Fraction of the free area (the hole, outside carbon) covered by particle discs:
        0.03 is sparse, 0.15 normal, 0.4 crowded (about the most random packing holds).
    particles_per_micrograph
        ``(low, high)`` number of particles per micrograph (uniform, inclusive); overrides
        ``particle_area_fraction`` when given.
    touching_fraction
        Fraction of particles placed touching another one.
    snr
        Signal-to-noise ratio per pixel at this pixel size: the mean square of an isolated
        particle's CTF-modulated contrast inside its disc over the shot-noise variance of
        the background (see docs/simulator.md). None (default): the noise follows from
        ``dose_e_per_A2`` and the physical contrast, which gives about 0.05 at 1 Å/px and
        0.5 at 4 Å/px for a 200 kDa particle at 40 e/Å^2.
    dose_e_per_A2
        Electron dose per Å^2, used when ``snr`` is None.
    defocus_range_um
        Defocus drawn uniformly per micrograph, µm, underfocus positive.
    astigmatism_um
        ``defocus_u - defocus_v`` is drawn uniformly from ``[0, astigmatism_um]``.
    bfactor_A2
        CTF envelope B-factor, Å^2.
    voltage_kv, cs_mm, amplitude_contrast
        Microscope.
    ice_gradient
        Relative amplitude of the smooth variation of ice thickness and mean intensity
        across a micrograph (0.05: +-5 %).
    ice_texture
        Power of the ice's structural noise relative to the shot noise, in the power
        spectrum at a CTF maximum (before the envelope): the height of the Thon rings
        above the noise floor (0.1 is typical of thin ice).
    carbon_texture
        The same for the carbon film, where there is one (0.5: clearly stronger rings).
    junk
        Amounts of ice contamination, dots, aggregates and carbon edges.
    mtf_at_nyquist
        Detector MTF (Gaussian) at Nyquist, applied to signal and noise; 1 = perfect
        (white noise); a counting detector at its physical pixel is about 0.2 - 0.6.
    mean_counts
        Mean value of the background in the written micrographs.
    label_fraction
        Fraction of the good particles given a training label (drawn at random).
    wrong_label_fraction
        Fraction of the labels that are wrong: placed on junk or background instead.
    seed
        Seed of everything random.
    name_prefix
        Micrographs are called ``<name_prefix><index:04d>``.
    """

    n_micrographs: int = 10
    shape: tuple[int, int] = (1024, 1024)
    apix: float = 4.0
    structures: tuple[str, ...] = ()
    apix_map: float | None = None
    particle_area_fraction: float = 0.15
    particles_per_micrograph: tuple[int, int] | None = None
    touching_fraction: float = 0.03
    snr: float | None = None
    dose_e_per_A2: float = 40.0
    defocus_range_um: tuple[float, float] = (0.8, 2.5)
    astigmatism_um: float = 0.1
    bfactor_A2: float = 60.0
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    ice_gradient: float = 0.05
    ice_texture: float = 0.1
    carbon_texture: float = 0.5
    junk: JunkConfig = field(default_factory=JunkConfig)
    mtf_at_nyquist: float = 1.0
    mean_counts: float = 5600.0
    label_fraction: float = 1.0
    wrong_label_fraction: float = 0.0
    seed: int = 0
    name_prefix: str = "mic_"

    def __post_init__(self) -> None:
        if isinstance(self.n_micrographs, numbers.Integral):
            object.__setattr__(self, "n_micrographs", int(self.n_micrographs))
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "structures", tuple(str(s) for s in self.structures))
        object.__setattr__(self, "defocus_range_um", tuple(float(d) for d in self.defocus_range_um))
        if isinstance(self.junk, str):
            object.__setattr__(self, "junk", junk_preset(self.junk))
        if self.particles_per_micrograph is not None:
            object.__setattr__(self, "particles_per_micrograph", tuple(int(n) for n in self.particles_per_micrograph))
        _validate(self)

    @classmethod
    def with_presets(cls, crowding: str = "normal", junk: str = "some", **kwargs: Any) -> SimulationConfig:
        """A config from named presets: crowding ``sparse|normal|crowded``, junk ``none|some|lots``."""
        if crowding not in CROWDING_PRESETS:
            raise CryopickError(f"unknown crowding {crowding!r}", fix=f"use one of {', '.join(CROWDING_PRESETS)}")
        area, touching = CROWDING_PRESETS[crowding]
        kwargs.setdefault("particle_area_fraction", area)
        kwargs.setdefault("touching_fraction", touching)
        return cls(junk=junk_preset(junk), **kwargs)

    def micrograph_name(self, index: int) -> str:
        return f"{self.name_prefix}{index:04d}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationConfig:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("junk"), dict):
            data["junk"] = JunkConfig(**data["junk"])
        for key in ("shape", "structures", "defocus_range_um", "particles_per_micrograph"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls(**data)

    def image_hash(self) -> str:
        """Hash of every field that decides a micrograph's pixels and truth.

        Leaves out ``n_micrographs`` (micrograph i does not depend on it) and the label
        fields (labels are redrawn without re-simulating).
        """
        data = self.to_dict()
        for key in ("n_micrographs", *LABEL_FIELDS):
            data.pop(key)
        data["simulator_version"] = SIMULATOR_VERSION
        for i, source in enumerate(self.structures):
            path = Path(source)
            if path.is_file():  # a changed structure file changes the micrographs
                stat = path.stat()
                data["structures"][i] = f"{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
        text = json.dumps(data, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> SimulationConfig:
        return replace(self, **changes)


def _fail(problem: str, fix: str) -> None:
    raise CryopickError(problem, fix=fix)


def _validate(c: SimulationConfig) -> None:
    if not (isinstance(c.n_micrographs, numbers.Integral) and c.n_micrographs >= 0):
        _fail(f"number of micrographs must be a whole number >= 0, got {c.n_micrographs}", "give e.g. --n 10")
    if len(c.shape) != 2 or min(c.shape) < 32:
        _fail(f"micrograph size must be at least 32 x 32 px, got {c.shape}", "give e.g. --size 1024 or 4096x4096")
    if c.apix_map is not None and not (math.isfinite(c.apix_map) and c.apix_map > 0):
        _fail(f"map voxel size must be positive, got {c.apix_map} Å", "give e.g. --apix-map 5")
    if not (math.isfinite(c.apix) and c.apix > 0):
        _fail(f"pixel size must be positive, got {c.apix} Å/px", "give e.g. --apix 4")
    if c.snr is not None and not (math.isfinite(c.snr) and c.snr > 0):
        _fail(f"SNR must be positive, got {c.snr}", "give e.g. --snr 0.1 (real data is about 0.01-1)")
    if c.snr is None and not c.dose_e_per_A2 > 0:
        _fail(f"dose must be positive, got {c.dose_e_per_A2} e/Å^2", "give e.g. 40")
    for name in ("particle_area_fraction", "touching_fraction", "label_fraction", "wrong_label_fraction"):
        value = getattr(c, name)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            _fail(f"{name.replace('_', ' ')} must be in [0, 1], got {value}", "give a fraction between 0 and 1")
    if c.particle_area_fraction > 0.55:
        _fail(f"particle area fraction {c.particle_area_fraction} is more than random packing holds (~0.55)",
              "give at most 0.5")
    if c.particles_per_micrograph is not None:
        lo, hi = c.particles_per_micrograph
        if lo < 0 or hi < lo:
            _fail(f"particles per micrograph must be 0 <= low <= high, got {c.particles_per_micrograph}",
                  "give e.g. (50, 100)")
    lo_um, hi_um = c.defocus_range_um
    if not (0 < lo_um <= hi_um <= 20):
        _fail(f"defocus range must be 0 < low <= high <= 20 µm, got {c.defocus_range_um}", "give e.g. (0.8, 2.5)")
    for name in ("astigmatism_um", "bfactor_A2", "ice_gradient", "ice_texture", "carbon_texture"):
        if not getattr(c, name) >= 0:
            _fail(f"{name} must be >= 0, got {getattr(c, name)}", "give 0 to turn it off")
    if c.astigmatism_um > 2 * lo_um:
        _fail(f"astigmatism {c.astigmatism_um} µm exceeds twice the lowest defocus", "give a smaller astigmatism")
    if c.ice_gradient >= 0.5:
        _fail(f"ice gradient {c.ice_gradient} is too strong (the image would go black)", "give at most 0.3")
    if not 0 < c.mtf_at_nyquist <= 1:
        _fail(f"MTF at Nyquist must be in (0, 1], got {c.mtf_at_nyquist}", "give 1 for a perfect detector")
    if not c.mean_counts > 0:
        _fail(f"mean counts must be positive, got {c.mean_counts}", "give e.g. 5600")
    if not c.voltage_kv > 0 or c.cs_mm < 0 or not 0 <= c.amplitude_contrast < 1:
        _fail("microscope parameters out of range", "voltage > 0 kV, Cs >= 0 mm, amplitude contrast in [0, 1)")
    if not c.name_prefix or any(ch in c.name_prefix for ch in "/\\ "):
        _fail(f"name prefix {c.name_prefix!r} is not a plain file name prefix", "give e.g. 'mic_'")
