"""How long each stage takes, on this machine, in one run.

Times reading the real micrographs in ../shared/data (or simulated ones of the same
size when that folder is absent), preprocessing + LoG picking them, simulating
micrographs, evaluating a large dataset, and writing/reading coordinates. Each figure is
the best of ``--repeats`` runs; the last column gives it as a ratio to reading the same
micrograph in the same run, which is steadier than seconds on a shared machine.

    python benchmarks/bench_speed.py            # full run (~1 minute on 2 cores)
    python benchmarks/bench_speed.py --quick    # smoke run (CI runs this in tests)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from _common import RESULTS, write_report

from cryopick.evaluation.metrics import evaluate
from cryopick.io.coords import read_coords, write_coords
from cryopick.io.micrographs import read_micrograph, write_mrc
from cryopick.io.picks import make_picks
from cryopick.pickers.log import pick_log
from cryopick.simulate import SimulationConfig, simulate_micrograph

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-micrographs-unlabeled"
REAL_FILES = {"epu2.9_example.mrc": 150.0, "fei-extended.mrc": 150.0}  # particle diameter, Å


def best_of(repeats: int, work: Callable[[], object]) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def micrographs(workdir: Path, quick: bool) -> list[tuple[Path, float]]:
    """The real micrographs when present, else simulated stand-ins of a similar size."""
    if REAL.is_dir() and not quick:
        return [(REAL / name, diameter) for name, diameter in REAL_FILES.items()]
    size = 1024 if quick else 4096
    config = SimulationConfig(n_micrographs=1, shape=(size, size), apix=0.667, seed=0)
    path = workdir / "stand_in.mrc"
    write_mrc(path, simulate_micrograph(config, 0).image, 0.667)
    return [(path, 150.0)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULTS / "speed.json", help="where to write JSON")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    rows: list[dict] = []

    def add(stage: str, what: str, seconds: float, reference_s: float | None) -> None:
        rows.append({
            "stage": stage,
            "what": what,
            "seconds": round(seconds, 4),
            "ratio_to_read": None if reference_s is None else round(seconds / reference_s, 2),
        })

    with tempfile.TemporaryDirectory(prefix="cryopick-speed-") as tmp:
        workdir = Path(tmp)
        read_s = None
        for path, diameter_A in micrographs(workdir, args.quick):
            read_s, mic = best_of(repeats, lambda p=path: read_micrograph(p))
            label = f"{path.name} {mic.shape[1]}x{mic.shape[0]} {mic.apix:.3f} Å/px"
            add("read", label, read_s, read_s)
            pick_s, picks = best_of(repeats, lambda m=mic, d=diameter_A: pick_log(m, d))
            add("preprocess + LoG pick", f"{label}, {len(picks)} picks", pick_s, read_s)

        side = 1024 if args.quick else 4096
        config = SimulationConfig(n_micrographs=1, shape=(side, side), apix=0.667, seed=1)
        sim_s, _ = best_of(repeats, lambda: simulate_micrograph(config, 0))
        add("simulate", f"{side}x{side} at 0.667 Å/px, default junk", sim_s, read_s)
        small = SimulationConfig(n_micrographs=1, shape=(1024, 1024), apix=4.0, seed=1)
        small_s, _ = best_of(repeats, lambda: simulate_micrograph(small, 0))
        add("simulate", "1024x1024 at 4 Å/px, default junk", small_s, read_s)

        n_mics = 50 if args.quick else 1000
        rng = np.random.default_rng(0)
        names = np.repeat([f"mic_{i:04d}" for i in range(n_mics)], 300)
        truth = make_picks(names, rng.uniform(0, 4096, names.size), rng.uniform(0, 4096, names.size))
        jitter = rng.normal(0, 4, (names.size, 2))
        picks = make_picks(names, truth["x"] + jitter[:, 0], truth["y"] + jitter[:, 1], rng.random(names.size))
        eval_s, _ = best_of(repeats, lambda: evaluate(picks, truth, radius_px=20.0))
        add("evaluate", f"{n_mics} micrographs x 300 picks", eval_s, read_s)

        star = workdir / "picks.star"
        write_s, _ = best_of(repeats, lambda: write_coords(picks, star))
        add("write STAR", f"{len(picks)} picks", write_s, read_s)
        read_star_s, _ = best_of(repeats, lambda: read_coords(star))
        add("read STAR", f"{len(picks)} picks", read_star_s, read_s)

    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    report = {
        "benchmark": "speed",
        "command": "python benchmarks/bench_speed.py" + (" --quick" if args.quick else ""),
        "note": "seconds are the best of the repeats; ratio_to_read divides by reading the last micrograph",
        "rows": rows,
    }
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
