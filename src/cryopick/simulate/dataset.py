"""A simulated dataset on disk: micrographs, truth, labels, CTF table and provenance.

Layout of ``out_dir``::

    micrographs/<name>.mrc   float32 MRC with the pixel size
    truth.star               good particles (RELION: rlnMicrographName, rlnCoordinateX/Y)
    objects.csv              every object with its kind (particle, aggregate, ice, dot, carbon_edge)
    labels.star              training labels: sparse and partly wrong
    labels_wrong.csv         which labels are wrong, and on what
    junk_masks/<name>.mrc    where junk is (uint8, 1 = ice, carbon, dot or aggregate), when
                             the config has junk: `cryopick train --background-masks` takes it
    micrographs.star         RELION micrographs_ctf.star-like: name, defocus, pixel size
    simulation.json          config, its hash, versions and per-micrograph facts
    .simulation/<name>.json  per-micrograph record that makes re-runs skip finished work

Every file is written atomically. A micrograph whose record carries the same config hash
as the current config is not simulated again.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mrcfile
import numpy as np
import pandas as pd
import starfile

from cryopick import __version__
from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path, write_text_atomic
from cryopick.io.picks import empty_picks
from cryopick.simulate.config import SIMULATOR_VERSION, SimulationConfig
from cryopick.simulate.labels import draw_labels, empty_wrong, truth_picks
from cryopick.simulate.micrograph import micrograph_seeds, simulate_micrograph
from cryopick.simulate.structures import Structure, builtin_names, load_structure

PARTS_DIR = ".simulation"
JUNK_MASK_DIR = "junk_masks"


@dataclass(frozen=True)
class SimulationSummary:
    """What :func:`simulate_dataset` did."""

    out_dir: Path
    n_micrographs: int
    n_simulated: int
    n_skipped: int
    n_particles: int
    n_labels: int
    n_wrong_labels: int
    kinds: dict[str, int]
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


@functools.lru_cache(maxsize=16)
def _load_cached(source: str, stamp: tuple[int, int] | None, apix_map: float | None) -> Structure:
    return load_structure(source, apix_map)


def load_structures(config: SimulationConfig) -> list[Structure]:
    """Load the config's structures (default: the first builtin), with clear errors."""
    builtins = builtin_names()
    sources = config.structures or (builtins[0],)
    out = []
    for source in sources:
        path = Path(source)
        if source not in builtins and not path.is_file():
            raise CryopickError(f"unknown structure {source!r}",
                                fix=f"use a builtin ({', '.join(builtins)}) or a path to a .pdb, .cif or .mrc file")
        stamp = (path.stat().st_size, path.stat().st_mtime_ns) if path.is_file() else None
        try:
            structure = _load_cached(source, stamp, config.apix_map)
        except CryopickError:
            raise
        except Exception as error:  # a parser's own error: name the file and the fix
            raise CryopickError(f"cannot read structure ({error})", path=source,
                                fix="give a valid PDB, mmCIF or MRC map, or a builtin name") from error
        d_px = structure.diameter_A / config.apix
        if d_px < 3:
            raise CryopickError(f"structure {structure.name} is {d_px:.1f} px across at {config.apix} Å/px",
                                fix="use a smaller --apix or a bigger structure")
        if d_px > 0.5 * min(config.shape):
            raise CryopickError(f"structure {structure.name} ({d_px:.0f} px) does not fit micrographs of "
                                f"{config.shape[1]}x{config.shape[0]} px", fix="use a larger --size or --apix")
        out.append(structure)
    return out


def write_micrograph_mrc(path: Path, data: np.ndarray, apix: float) -> None:
    """Write a float32 MRC with its pixel size, atomically (via cryopick.io when ready)."""
    from cryopick.io import micrographs

    try:
        micrographs.write_mrc(path, data, apix)
        return
    except NotImplementedError:
        pass
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data, dtype=np.float32))
        mrc.voxel_size = apix


def write_picks_star(picks: pd.DataFrame, path: Path, apix: float) -> None:
    """Write a Picks table as a RELION STAR file (the one place to switch to io.coords)."""
    from cryopick.io import coords

    try:
        coords.write_coords(picks, path, "star", coords.CoordOptions(apix=apix))
        return
    except NotImplementedError:
        pass
    table = pd.DataFrame({
        "rlnMicrographName": [f"micrographs/{m}.mrc" for m in picks["micrograph"]],
        "rlnCoordinateX": picks["x"].to_numpy(dtype=float),
        "rlnCoordinateY": picks["y"].to_numpy(dtype=float),
        "rlnAutopickFigureOfMerit": picks["score"].to_numpy(dtype=float),
    })
    with atomic_path(path) as tmp:
        starfile.write({"particles": table}, tmp, overwrite=True)


def write_micrographs_star(records: list[dict[str, Any]], path: Path, config: SimulationConfig) -> None:
    """RELION micrographs_ctf.star-like table: optics group and per-micrograph CTF."""
    optics = pd.DataFrame({
        "rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1],
        "rlnMicrographOriginalPixelSize": [config.apix], "rlnVoltage": [config.voltage_kv],
        "rlnSphericalAberration": [config.cs_mm], "rlnAmplitudeContrast": [config.amplitude_contrast],
        "rlnMicrographPixelSize": [config.apix],
    })
    mics = pd.DataFrame({
        "rlnMicrographName": [f"micrographs/{r['name']}.mrc" for r in records],
        "rlnOpticsGroup": [1] * len(records),
        "rlnDefocusU": [r["ctf"]["defocus_u_A"] for r in records],
        "rlnDefocusV": [r["ctf"]["defocus_v_A"] for r in records],
        "rlnDefocusAngle": [r["ctf"]["astig_angle_deg"] for r in records],
        "rlnCtfBfactor": [r["ctf"]["bfactor_A2"] for r in records],
        "rlnPhaseShift": [r["ctf"]["phase_shift_deg"] for r in records],
    })
    with atomic_path(path) as tmp:
        starfile.write({"optics": optics, "micrographs": mics}, tmp, overwrite=True)


def write_mask_mrc(path: Path, mask: np.ndarray, apix: float) -> None:
    """Write a boolean mask as a uint8 MRC (1 inside), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(mask, dtype=np.uint8))
        mrc.voxel_size = apix


def _read_record(path: Path, config_hash: str, mrc: Path, mask: Path | None = None) -> dict[str, Any] | None:
    """A finished micrograph's record, or None if it is missing, stale or incomplete."""
    if not (path.is_file() and mrc.is_file()) or (mask is not None and not mask.is_file()):
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("config_hash") == config_hash else None


def simulate_dataset(out_dir: str | Path, config: SimulationConfig,
                     progress: Callable[[int, int], None] | None = None) -> SimulationSummary:
    """Simulate ``config.n_micrographs`` micrographs with truth and labels into ``out_dir``.

    Re-running with the same config skips finished micrographs; a larger
    ``n_micrographs`` only adds new ones; changing only the label fractions redraws the
    labels without re-simulating. ``progress(done, total)`` is called after each
    micrograph.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CryopickError("output exists and is not a folder", path=out, fix="give a folder name")
    structures = load_structures(config)
    config_hash = config.image_hash()
    parts_dir = out / PARTS_DIR
    mic_dir = out / "micrographs"
    records: list[dict[str, Any]] = []
    n_skipped = 0
    for index in range(config.n_micrographs):
        name = config.micrograph_name(index)
        record_path = parts_dir / f"{name}.json"
        mrc_path = mic_dir / f"{name}.mrc"
        mask_path = out / JUNK_MASK_DIR / f"{name}.mrc" if config.junk.any else None
        record = _read_record(record_path, config_hash, mrc_path, mask_path)
        if record is None:
            result = simulate_micrograph(config, index, structures)
            write_micrograph_mrc(mrc_path, result.image, config.apix)
            if mask_path is not None and result.junk_mask is not None:
                write_mask_mrc(mask_path, result.junk_mask, config.apix)
            elif mask_path is None:  # a mask left by an earlier config with junk would now be wrong
                (out / JUNK_MASK_DIR / f"{name}.mrc").unlink(missing_ok=True)
            record = {
                "config_hash": config_hash, "name": name, "index": index, "shape": list(config.shape),
                "apix": config.apix, "ctf": asdict(result.ctf), "noise_sigma": result.noise_sigma,
                "dose_e_per_A2": result.dose_e_per_A2, "signal_power": result.signal_power,
                "objects": result.objects.to_dict(orient="list"), "decoys": result.decoys.to_dict(orient="list"),
            }
            write_text_atomic(record_path, json.dumps(record))
        else:
            n_skipped += 1
        records.append(record)
        if progress is not None:
            progress(index + 1, config.n_micrographs)
    _remove_stale(parts_dir, mic_dir, {r["name"] for r in records})
    return _write_tables(out, config, config_hash, structures, records, n_skipped, start)


def _remove_stale(parts_dir: Path, mic_dir: Path, keep: set[str]) -> None:
    """Remove micrographs this simulator made earlier that the current config no longer has."""
    if not parts_dir.is_dir():
        return
    for record_path in parts_dir.glob("*.json"):
        name = record_path.stem
        if name not in keep:
            (mic_dir / f"{name}.mrc").unlink(missing_ok=True)
            (mic_dir.parent / JUNK_MASK_DIR / f"{name}.mrc").unlink(missing_ok=True)
            record_path.unlink(missing_ok=True)


def _write_tables(out: Path, config: SimulationConfig, config_hash: str, structures: list[Structure],
                  records: list[dict[str, Any]], n_skipped: int, start: float) -> SimulationSummary:
    objects_list, labels_list, wrong_list = [], [], []
    for record in records:
        objects = pd.DataFrame(record["objects"])
        decoys = pd.DataFrame(record["decoys"], columns=["x", "y", "kind"])
        rng = np.random.default_rng(micrograph_seeds(config.seed, record["index"])[1])
        labels, wrong = draw_labels(objects, decoys, record["name"], tuple(record["shape"]), rng,
                                    config.label_fraction, config.wrong_label_fraction)
        objects_list.append(objects)
        labels_list.append(labels)
        wrong_list.append(wrong)
    objects = pd.concat(objects_list, ignore_index=True) if objects_list else None
    if objects is None or objects.empty:
        objects = empty_picks().assign(kind=pd.Series(dtype=object))
    truth = truth_picks(objects)
    labels = pd.concat(labels_list, ignore_index=True) if labels_list else empty_picks()
    wrong = pd.concat(wrong_list, ignore_index=True) if wrong_list else empty_wrong()
    files = {
        "micrographs": out / "micrographs", "truth": out / "truth.star", "objects": out / "objects.csv",
        "labels": out / "labels.star", "labels_wrong": out / "labels_wrong.csv",
        "micrographs_star": out / "micrographs.star", "simulation": out / "simulation.json",
    }
    if config.junk.any:
        files["junk_masks"] = out / JUNK_MASK_DIR
    write_picks_star(truth, files["truth"], config.apix)
    write_picks_star(labels, files["labels"], config.apix)
    with atomic_path(files["objects"]) as tmp:
        objects.to_csv(tmp, index=False)
    with atomic_path(files["labels_wrong"]) as tmp:
        wrong.to_csv(tmp, index=False)
    write_micrographs_star(records, files["micrographs_star"], config)
    kinds = {str(k): int(v) for k, v in objects["kind"].value_counts().sort_index().items()}
    provenance = {
        "cryopick_version": __version__, "simulator_version": SIMULATOR_VERSION, "config_hash": config_hash,
        "config": config.to_dict(),
        "structures": [{"name": s.name, "diameter_A": round(s.diameter_A, 2), "n_points": int(len(s.weights))}
                       for s in structures],
        "counts": {"micrographs": len(records), "particles": int(len(truth)), "labels": int(len(labels)),
                   "wrong_labels": int(len(wrong)), "objects_by_kind": kinds},
        "micrographs": [{"name": r["name"], **{k: r["ctf"][k] for k in ("defocus_u_A", "defocus_v_A",
                         "astig_angle_deg")}, "noise_sigma": r["noise_sigma"],
                         "dose_e_per_A2": r["dose_e_per_A2"], "signal_power": r["signal_power"]} for r in records],
    }
    write_text_atomic(files["simulation"], json.dumps(provenance, indent=2) + "\n")
    return SimulationSummary(out, len(records), len(records) - n_skipped, n_skipped, int(len(truth)),
                             int(len(labels)), int(len(wrong)), kinds, time.perf_counter() - start, files)

