"""Clean-up by conventional means (issue 5): how much injected junk `cryopick clean` removes.

For each structure, simulates micrographs with lots of junk (ice, dots, aggregates,
carbon edges) and builds a pick set from the simulator's truth of every object: one pick
on every true particle, plus one pick on every junk object whose centre lies on the
micrograph. `clean_picks` (the defaults of `cryopick clean`) then clusters the picks.
Reports, per structure, the fraction of true particles kept and of junk picks removed,
by junk kind. Prints a table and writes JSON.

    python benchmarks/bench_clean.py            # full run (~2 min on 2 cores)
    python benchmarks/bench_clean.py --quick    # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, write_report

from cryopick.postprocess.clean import CleanConfig, clean_picks
from cryopick.io.micrographs import read_micrograph, read_micrograph_info
from cryopick.simulate import SimulationConfig, simulate_dataset
from cryopick.simulate.structures import load_structure

JUNK_KINDS = ("ice", "dot", "aggregate", "carbon_edge")


def pick_set(out: Path) -> pd.DataFrame:
    """Every true particle and every junk object on the micrograph, with its kind."""
    objects = pd.read_csv(out / "objects.csv")
    shapes = {p.stem: read_micrograph_info(p).shape for p in (out / "micrographs").glob("*.mrc")}
    inside = [0 <= x < shapes[m][1] and 0 <= y < shapes[m][0]
              for m, x, y in zip(objects["micrograph"], objects["x"], objects["y"])]
    objects = objects.loc[np.asarray(inside) & objects["kind"].isin(("particle", *JUNK_KINDS))]
    return pd.DataFrame({"micrograph": objects["micrograph"], "x": objects["x"], "y": objects["y"],
                         "score": 1.0, "kind": objects["kind"]}).reset_index(drop=True)


def run(structure: str, args: argparse.Namespace, workdir: Path) -> dict:
    out = workdir / structure
    config = SimulationConfig.with_presets(junk="lots", crowding="normal", n_micrographs=args.n_micrographs,
                                           shape=(args.size, args.size), apix=args.apix, structures=(structure,),
                                           seed=args.seed)
    simulate_dataset(out, config)
    picks = pick_set(out)
    diameter_A = load_structure(structure).diameter_A
    start = time.perf_counter()
    mics = (read_micrograph(p) for p in sorted((out / "micrographs").glob("*.mrc")))
    result = clean_picks(mics, picks, diameter_A, CleanConfig())
    seconds = time.perf_counter() - start
    table = result.picks
    particle = table["kind"] == "particle"
    row = {"structure": structure, "diameter_A": round(diameter_A), "n_particles": int(particle.sum()),
           "n_junk": int((~particle).sum()), "particles_kept": round(float((~table.loc[particle, "junk"]).mean()), 4),
           "junk_removed": round(float(table.loc[~particle, "junk"].mean()), 4) if (~particle).any() else None,
           "clusters": len(result.clusters), "junk_clusters": int(result.clusters["junk"].sum()),
           "seconds": round(seconds, 1)}
    for kind in JUNK_KINDS:
        mine = table["kind"] == kind
        row[f"n_{kind}"] = int(mine.sum())
        row[f"removed_{kind}"] = round(float(table.loc[mine, "junk"].mean()), 3) if mine.any() else None
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["globular", "ring7", "dumbbell"])
    parser.add_argument("--n-micrographs", type=int, default=8)
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--apix", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=RESULTS / "clean.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_micrographs, args.size, args.apix = args.structures[:1], 2, 768, 4.0
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryopick-clean-") as tmp:
        for structure in args.structures:
            rows.append(run(structure, args, args.workdir or Path(tmp)))
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return write_report(args.json, {"benchmark": "clean", "settings": settings, "rows": rows,
                                    "mean_particles_kept": float(np.mean(table["particles_kept"]))})


if __name__ == "__main__":
    main()
