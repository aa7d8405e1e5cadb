"""Tomograms (issue 18): the 3D picker against the 3D LoG on simulated tomograms, and picking's memory and time.

For each structure: ``--n-tomograms`` simulated tomograms (``cryopick tomo simulate``'s
defaults: 512×512×200 at 10 Å, ±60° in 3°, SNR 0.05 a tilt, fiducials, vesicles, ice
contamination), 20% of the particles labelled and 20% of the labels wrong; the 3D
picker trains on the first two (``cryopick tomo train``) and picks the rest; the 3D
LoG picks the same. A person in the loop is played too: the model's false picks on
vesicle membranes in the two training tomograms are rejected, as in a review, and the
model is trained again with them as background points (``--background-coords``). The
table gives AP, best F1, F1 at each picker's own threshold, the fraction of picks on
fiducials and vesicles, and the times. ``--memory`` also picks one
tomogram each of 256×256×100, 512×512×200 and 1024×1024×300 voxels in a fresh process and
reports its peak RSS (VmHWM) and time, at the first structure's working scale and at bin 1
(``--diameter 70``: a particle 7 voxels across is picked unbinned, the costliest case).

    python benchmarks/bench_tomo.py                           # three structures, ~35 minutes on 2 cores
    python benchmarks/bench_tomo.py --structures 6qt9 --quick  # 256² smoke run
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

DIAMETERS_A = {"6qt9": 300.0, "globular": 115.0, "rod": 210.0}


def _cryopick(*args: object) -> float:
    start = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "cryopick"), *map(str, args)], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"cryopick {' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def _one(structure: str, folder: Path, n: int, quick: bool) -> list[dict]:
    from cryopick.tomo.coords import read_picks3d, write_picks3d
    from cryopick.tomo.evaluate import evaluate_3d, false_on, fraction_on
    from cryopick.tomo.model_file import load_tomo_model

    d = DIAMETERS_A[structure]
    sim = folder / structure
    size = ["--size", 256, "--thickness", 120, "--particles", 40] if quick else []
    sim_s = _cryopick("tomo", "simulate", sim, "--n", n, "--structure", structure, *size)
    tomos = sorted((sim / "tomograms").glob("*.mrc"))
    steps = ["--steps", 300] if quick else []
    model = folder / f"{structure}.cryopick"
    train = ["tomo", "train", *tomos[:2], "--coords", sim / "labels.star", "--diameter", d, *steps]
    train_s = _cryopick(*train, "-o", model)
    truth = read_picks3d(sim / "truth.star")
    objects = read_picks3d(sim / "truth.csv")
    # a person in the loop: the model's false picks on vesicle membranes in the training tomograms are rejected
    # (as in a review) and given back as background points; the model is trained again with them
    _cryopick("tomo", "pick", *tomos[:2], "--model", model, "-o", folder / f"{structure}_train.csv")
    reviewed = read_picks3d(folder / f"{structure}_train.csv")
    rejected = reviewed.loc[false_on(reviewed, objects, ("vesicle",))]
    looped = folder / f"{structure}_loop.cryopick"
    loop_s = None
    if len(rejected):
        write_picks3d(rejected, folder / f"{structure}_rejected.csv")
        loop_s = _cryopick(*train, "--background-coords", folder / f"{structure}_rejected.csv", "-o", looped)
    runs = [("cryopick 3D FCN", ["--model", model], load_tomo_model(model).threshold, train_s)]
    if loop_s is not None:
        runs.append((f"cryopick 3D FCN, {len(rejected)} picks rejected", ["--model", looped],
                     load_tomo_model(looped).threshold, loop_s))
    runs.append(("3D LoG", ["--diameter", d], 2.5, None))
    rows = []
    for i, (method, args, own, seconds) in enumerate(runs):
        out = folder / f"{structure}_{i}.csv"
        pick_s = _cryopick("tomo", "pick", *tomos[2:], *args, "--all-peaks", "-o", out)
        picks = read_picks3d(out)
        judged = truth.loc[truth["tomogram"].isin(picks["tomogram"].unique())]
        every = evaluate_3d(picks, judged, d / 10.0 / 2.0)
        at = evaluate_3d(picks, judged, d / 10.0 / 2.0, own)
        rows.append({"structure": structure, "picker": method, "AP": round(every.average_precision, 3),
                     "best F1": round(every.best_f1, 3), "F1 at own threshold": round(at.f1, 3),
                     "threshold": round(own, 3), "on fiducials/vesicles": round(
                         fraction_on(picks, objects, ("fiducial", "vesicle"), own), 3),
                     "pick s / tomogram": round(pick_s / max(len(tomos) - 2, 1), 1),
                     "train s": None if seconds is None else round(seconds, 1),
                     "simulate s / tomogram": round(sim_s / n, 1)})
    return rows


SIZES = ((100, 256, 256), (200, 512, 512), (300, 1024, 1024))
"""(nz, ny, nx) of the tomograms whose picking's peak memory is measured."""
BIN1_DIAMETER_A = 70.0
"""A diameter that the 10 Å voxels of the memory tomograms pick at bin 1."""


def _memory(folder: Path, model: Path) -> list[dict]:
    """Pick one tomogram of each of :data:`SIZES` in a fresh process: peak RSS (VmHWM) and time."""
    import numpy as np

    from cryopick.tomo.model_file import load_tomo_model
    from cryopick.tomo.scale import bin_factor
    from cryopick.tomo.volumes import write_tomogram

    rows = []
    for shape in SIZES:
        path = folder / "big" / f"big_{shape[2]}.mrc"
        rng = np.random.default_rng(0)
        data = np.lib.format.open_memmap(folder / "big.npy", mode="w+", dtype=np.float32, shape=shape)
        for k in range(0, shape[0], 20):
            data[k:k + 20] = rng.normal(size=(min(20, shape[0] - k), *shape[1:])).astype(np.float32)
        write_tomogram(path, data, 10.0)
        del data
        for diameter in (load_tomo_model(model).diameter_A, BIN1_DIAMETER_A):
            out = folder / f"big_{diameter:g}.csv"
            code = ("import time; from cryopick.cli import main; t = time.perf_counter()\n"
                    f"try:\n    main(['tomo', 'pick', {str(path)!r}, '--model', {str(model)!r}, '--diameter', "
                    f"'{diameter:g}', '-o', {str(out)!r}])\n"
                    "except SystemExit: pass\n"
                    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
                    "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
                    "print(time.perf_counter() - t, hwm)")
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            seconds, rss_kb = done.stdout.split()[-2:]
            rows.append({"volume": "x".join(map(str, shape[::-1])), "file_GB": round(path.stat().st_size / 1e9, 2),
                         "bin": bin_factor(diameter, 10.0), "peak_rss_GiB": round(int(rss_kb) / 2**20, 2),
                         "seconds": round(float(seconds), 1)})
        path.unlink()
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structures", nargs="+", default=list(DIAMETERS_A))
    parser.add_argument("--n-tomograms", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also pick a 1024x1024x300 tomogram for peak RSS")
    parser.add_argument("--json", type=Path, default=RESULTS / "tomo.json")
    args = parser.parse_args(argv)
    rows = []
    memory = None
    with tempfile.TemporaryDirectory(prefix="cryopick-tomo-") as tmp:
        folder = Path(tmp)
        for structure in args.structures:
            rows += _one(structure, folder, args.n_tomograms, args.quick)
            print(pd.DataFrame(rows).to_string(index=False), flush=True)
        if args.memory:
            memory = _memory(folder, folder / f"{args.structures[0]}.cryopick")
            print(pd.DataFrame(memory).to_string(index=False))
    return write_report(args.json, {"rows": rows, "memory": memory, "quick": args.quick,
                                    "self_rss_GiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)})


if __name__ == "__main__":
    main()
