"""A folder of simulated tomograms with their truth and labels (what ``cryopick tomo simulate`` writes).

``OUT/tomograms/tomo_0000.mrc ...`` (float32, voxel size in the header), ``OUT/truth.csv``
(every object with its kind: particle, fiducial, vesicle, contamination),
``OUT/truth.star`` (the particles, RELION 5 style), ``OUT/labels.star`` (the training
labels: a fraction of the particles, some wrong) and ``OUT/tilt_angles.txt``. Each
tomogram is written as soon as it is made, atomically; a tomogram already there from the
same config and seed is kept, so an interrupted run resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.io.atomic import write_text_atomic
from cryopick.tomo.coords import write_picks3d
from cryopick.tomo.simulate import TomoSimConfig, simulate_tomogram, truth_and_labels
from cryopick.tomo.volumes import write_tomogram


def simulate_tomo_dataset(out: str | Path, config: TomoSimConfig, n_tomograms: int,
                          progress: Callable[[int, int], None] | None = None) -> dict[str, Path]:
    """Simulate ``n_tomograms`` tomograms of ``config`` into ``out``; returns the files written by role."""
    out = Path(out)
    folder = out / "tomograms"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = json.dumps(asdict(config), sort_keys=True)
    truths, labels = [], []
    angles = None
    for i in range(n_tomograms):
        name = f"tomo_{i:04d}"
        record = folder / f"{name}.json"
        simulated = simulate_tomogram(config, i) if not _kept(record, stamp) else None
        if simulated is not None:
            write_tomogram(folder / f"{name}.mrc", simulated.volume, config.apix)
            objects, angles = simulated.objects, simulated.angles_deg
            write_text_atomic(record, json.dumps({"config": stamp, "objects": objects.to_dict("list"),
                                                  "angles": angles.tolist()}))
        else:
            saved = json.loads(record.read_text())
            objects, angles = pd.DataFrame(saved["objects"]), np.asarray(saved["angles"])
        truth, label = truth_and_labels(objects, name, config, np.random.default_rng([config.seed, i, 1]))
        truths.append(truth)
        labels.append(label)
        if progress is not None:
            progress(i + 1, n_tomograms)
    truth = pd.concat(truths, ignore_index=True)
    label = pd.concat(labels, ignore_index=True)
    shapes = {f"tomo_{i:04d}": config.shape for i in range(n_tomograms)}
    files = {
        "tomograms": folder,
        "truth_csv": write_picks3d(truth, out / "truth.csv"),
        "truth": write_picks3d(truth.loc[truth["kind"] == "particle"], out / "truth.star", shapes=shapes,
                               apix=config.apix),
        "labels": write_picks3d(label.drop(columns=["kind"]), out / "labels.star", shapes=shapes, apix=config.apix),
    }
    if angles is not None:
        write_text_atomic(out / "tilt_angles.txt", "".join(f"{a:g}\n" for a in angles))
        files["tilt_angles"] = out / "tilt_angles.txt"
    return files


def _kept(record: Path, stamp: str) -> bool:
    """A tomogram made before from the same config (its record and volume both there)."""
    if not (record.exists() and record.with_suffix(".mrc").exists()):
        return False
    try:
        return json.loads(record.read_text()).get("config") == stamp
    except (OSError, ValueError):
        return False
