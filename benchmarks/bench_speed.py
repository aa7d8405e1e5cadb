"""How long each stage takes, on this machine, in one run.

Times reading the real micrographs in ../shared/data (or simulated ones of the same
size when that folder is absent), preprocessing + LoG picking them, simulating
micrographs, evaluating a large dataset, and writing/reading coordinates; then the
kernels whose speed the test suite used to assert (Fourier cropping, peak finding,
matching, projecting, cutting patches, the FCN's forward pass, an overlay). Each figure is
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


def kernels(add: Callable[[str, str, float, float | None], None], repeats: int, read_s: float,
            workdir: Path) -> None:
    """The inner kernels, each on the input its test module uses (timing left out of the tests)."""
    import torch
    from cryopick.detect import find_peaks
    from cryopick.evaluation.matching import match
    from cryopick.models.fcn import ParticleFCN
    from cryopick.pickers.patch.patches import PATCH_PX, extract_patches
    from cryopick.preprocess import fourier_crop
    from cryopick.reports.figures import plot_overlay
    from cryopick.simulate.projection import project, random_rotations
    from cryopick.simulate.structures import Structure

    rng = np.random.default_rng(1)
    image = rng.integers(0, 60000, (4096, 4096)).astype(np.float32)
    add("fourier crop", "4096x4096 to 437x437", best_of(repeats, lambda: fourier_crop(image, 150 / 0.6666 / 24))[0],
        read_s)
    score = rng.standard_normal((1000, 1000)).astype(np.float32)
    add("find peaks", "1000x1000 map, 5 px apart", best_of(repeats, lambda: find_peaks(score, 5))[0], read_s)
    p, t = rng.uniform(0, 400, (1000, 2)), rng.uniform(0, 400, (1000, 2))
    add("match", "1000 picks x 1000 truths, dense", best_of(repeats, lambda: match(p, t, 20.0, rng.random(1000)))[0],
        read_s)
    points = rng.normal(size=(20_000, 3))
    points *= 70.0 * rng.random(20_000)[:, None] ** (1 / 3) / np.linalg.norm(points, axis=1, keepdims=True)
    ball = Structure("ball", points, np.ones(20_000))
    rotations = random_rotations(300, np.random.default_rng(0))
    add("project", "300 projections of 20,000 points, 96 px",
        best_of(repeats, lambda: project(ball, rotations, 2.0, 96, 8.0))[0], read_s)
    crops = np.random.default_rng(0).random((1300, 1300), dtype=np.float32)
    centres = np.random.default_rng(1).uniform(0, 1299, (5000, 2))
    add("extract patches", f"5000 of {PATCH_PX} px from 1300x1300",
        best_of(repeats, lambda: extract_patches(crops, centres, PATCH_PX))[0], read_s)
    torch.manual_seed(0)
    model, x = ParticleFCN().eval(), torch.randn(1, 1, 512, 512)
    with torch.inference_mode():
        add("FCN forward", "512x512 working image, one pass", best_of(repeats, lambda: model(x))[0], read_s)
    big = rng.normal(size=(3000, 2000)).astype(np.float32)
    spots = make_picks("m", rng.uniform(0, 2000, 300), rng.uniform(0, 3000, 300), diameter_px=80.0)
    add("overlay", "3000x2000 binned to 1000 px, 300 picks",
        best_of(repeats, lambda: plot_overlay(big, workdir / "big.png", picks=spots, max_side_px=1000))[0], read_s)


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
        kernels(add, repeats, read_s, workdir)

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
