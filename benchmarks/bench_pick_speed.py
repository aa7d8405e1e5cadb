"""Is picking near the floor? The FCN picker against reading + downsampling, in one run, with peak memory.

For a 4096x4096 micrograph (the real EPU file in ../shared/data, or a simulated stand-in
of the same size and pixel size), at several particle diameters, each in a fresh child
process (so its peak resident memory is its own):

* **floor**: read the file (:func:`cryopick.io.micrographs.read_micrograph`) and
  Fourier-crop it to the FCN's working scale (:func:`cryopick.preprocess.fourier_crop`);
* **pick**: everything ``cryopick pick --model`` does per micrograph: read, preprocess
  (Fourier crop, high-pass, normalisation), the network over the whole image (tiled),
  peak finding, and mapping the picks back.

Each time is the best of ``--repeats``; the ratio pick / floor is measured in the same
process. Speed does not depend on the weights, so an untrained network of the shipped
architecture is timed. Prints a table, writes JSON.

    python benchmarks/bench_pick_speed.py            # full
    python benchmarks/bench_pick_speed.py --quick    # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-micrographs-unlabeled" / "epu2.9_example.mrc"


def _measure(path: str, diameter_A: float, repeats: int, threads: int, queue: mp.Queue) -> None:
    import torch

    from cryopick.pickers.fcn.data import FCN_PREPROCESS
    from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn
    from cryopick.pickers.fcn.train import build_network
    from cryopick.io.micrographs import read_micrograph
    from cryopick.models.checkpoint import load_model, save_model
    from cryopick.preprocess import downsample_factor, fourier_crop

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "speed.cryopick"
        save_model(model_file, build_network(FCN_PREPROCESS.working_diameter_px), kind="fcn",
                   diameter_A=diameter_A, threshold=0.5, preprocess=asdict(FCN_PREPROCESS))
        loaded = load_model(model_file)

    def floor() -> tuple:
        mic = read_micrograph(path)
        return fourier_crop(mic.data, downsample_factor(mic.apix, diameter_A, FCN_PREPROCESS)).shape

    def pick() -> int:
        return len(pick_fcn(read_micrograph(path), loaded, None, FCNPickConfig(threshold=0.0)))

    best = {"floor": float("inf"), "pick": float("inf")}
    out = {}
    for _ in range(repeats):  # interleaved, so a slow spell of this shared machine hits both
        for name, work in (("floor", floor), ("pick", pick)):
            start = time.perf_counter()
            out[name] = work()
            best[name] = min(best[name], time.perf_counter() - start)
    floor_s, pick_s = best["floor"], best["pick"]
    queue.put({
        "diameter_A": diameter_A, "working_shape": list(out["floor"]),
        "read_downsample_s": round(floor_s, 3), "pick_s": round(pick_s, 3),
        "ratio_pick_to_floor": round(pick_s / floor_s, 2), "n_candidates": out["pick"],
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
    })


def _stand_in(workdir: Path, size: int) -> Path:
    from cryopick.io.micrographs import write_mrc
    from cryopick.simulate import SimulationConfig, simulate_micrograph

    config = SimulationConfig(n_micrographs=1, shape=(size, size), apix=0.667, seed=0)
    path = workdir / "stand_in.mrc"
    write_mrc(path, simulate_micrograph(config, 0).image, 0.667)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--diameters", type=float, nargs="+", default=[100.0, 150.0, 250.0], help="Å")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=RESULTS / "pick_speed.json")
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.quick:
            path, args.diameters, args.repeats = _stand_in(Path(tmp), 1024), [150.0], 1
        else:
            path = REAL if REAL.exists() else _stand_in(Path(tmp), 4096)
        for diameter in args.diameters:
            queue = ctx.Queue()
            child = ctx.Process(target=_measure, args=(str(path), diameter, args.repeats, args.threads, queue))
            child.start()
            row = queue.get()
            child.join()
            rows.append({"micrograph": path.name, **row})
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    print(pd.DataFrame(rows).to_string(index=False))
    return write_report(args.json, {"benchmark": "pick_speed", "threads": args.threads, "repeats": args.repeats,
                                    "rows": rows})


if __name__ == "__main__":
    main()
