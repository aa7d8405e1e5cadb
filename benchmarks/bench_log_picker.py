"""The no-training baseline: the LoG picker's precision and recall on simulated test sets.

Simulates one test set per condition (clean, some junk, lots of junk, sparse, crowded),
picks it with ``pick_log`` at the structure's diameter keeping every peak, and evaluates
against truth with one-to-one matching within half a diameter: precision, recall and F1
at the picker's automatic cut (what `cryopick pick` writes by default), and average
precision and best F1 over all peaks. Prints a table and writes JSON.

    python benchmarks/bench_log_picker.py                 # full run (~ a few minutes on 2 cores)
    python benchmarks/bench_log_picker.py --quick         # smoke run (CI runs this in tests)

Times are absolute seconds on the machine named in the JSON, plus the ratio of picking
time to simulation time measured in the same run (the machines are shared and noisy).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

from cryopick.evaluation.metrics import evaluate
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import read_micrograph
from cryopick.pickers.log import KEEP_ALL, LoGConfig, pick_log
from cryopick.simulate import SimulationConfig, simulate_dataset
from cryopick.simulate.structures import load_structure



@dataclass(frozen=True)
class Condition:
    name: str
    crowding: str
    junk: str


CONDITIONS = (
    Condition("clean", "normal", "none"),
    Condition("some junk", "normal", "some"),
    Condition("lots of junk", "normal", "lots"),
    Condition("sparse", "sparse", "some"),
    Condition("crowded", "crowded", "some"),
)


def run_condition(condition: Condition, args: argparse.Namespace, workdir: Path) -> dict:
    """Simulate, pick and evaluate one condition; return its row."""
    config = SimulationConfig.with_presets(
        crowding=condition.crowding,
        junk=condition.junk,
        n_micrographs=args.n,
        shape=(args.size, args.size),
        apix=args.apix,
        structures=(args.structure,),
        seed=args.seed,
    )
    out = workdir / condition.name.replace(" ", "_")
    start = time.perf_counter()
    simulate_dataset(out, config)
    simulate_s = time.perf_counter() - start
    diameter_A = load_structure(args.structure).diameter_A
    tables = []
    start = time.perf_counter()
    for path in sorted((out / "micrographs").glob("*.mrc")):
        tables.append(pick_log(read_micrograph(path), diameter_A, LoGConfig(threshold=KEEP_ALL)))
    pick_s = time.perf_counter() - start
    picks = pd.concat(tables, ignore_index=True)
    truth = read_coords(out / "truth.star")
    # Every peak is kept so AP covers the whole curve; P/R/F1 are at the automatic cut.
    result = evaluate(picks, truth, radius_px=diameter_A / args.apix / 2.0, threshold=LoGConfig().auto_threshold)
    return {
        "condition": condition.name,
        "micrographs": args.n,
        "truth": result.n_truth,
        "picks": result.n_picks,
        "precision": round(result.precision, 3),
        "recall": round(result.recall, 3),
        "f1": round(result.f1, 3),
        "average_precision": round(result.average_precision, 3),
        "best_f1": round(result.best_f1, 3),
        "pick_s_per_micrograph": round(pick_s / args.n, 3),
        "pick_to_simulate_time_ratio": round(pick_s / simulate_s, 3),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--n", type=int, default=8, help="micrographs per condition")
    parser.add_argument("--size", type=int, default=2048, help="micrograph side, px")
    parser.add_argument("--apix", type=float, default=2.0, help="pixel size, Å/px")
    parser.add_argument("--structure", default="globular", help="builtin structure or file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=RESULTS / "log_picker.json", help="where to write JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.size = 2, 768
    with tempfile.TemporaryDirectory(prefix="cryopick-bench-") as tmp:
        rows = [run_condition(condition, args, Path(tmp)) for condition in CONDITIONS]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    report = {
        "benchmark": "log_picker",
        "command": "python benchmarks/bench_log_picker.py" + (" --quick" if args.quick else ""),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "rows": rows,
    }
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
