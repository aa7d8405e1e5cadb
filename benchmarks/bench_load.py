"""How much cryopick slows when another CPU-bound job shares its cores (issue 17: fair under load).

Times the same work alone and beside ``--hogs`` busy single-thread processes, each in a
fresh Python process (so OpenMP starts with the policy asked for), for OpenMP's wait
policy as cryopick sets it (``PASSIVE``: idle threads sleep) and ``ACTIVE`` (idle threads
spin; libgomp's own default spins for a while before it sleeps, and measured about the
same, 3.4x, in a first run by hand). The work: ``--steps`` FCN training steps (forward,
backward, Adam) on ``--threads`` threads, and picking ``--mics`` simulated 1024²
micrographs with the bundled model. The fair share with H hogs on C cores running T
threads is about (H + T) / C; the table gives each slowdown beside it.

    python benchmarks/bench_load.py            # ~3 minutes on 2 cores
    python benchmarks/bench_load.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

WORK = {
    "train": """
import time, torch
from cryopick.models.fcn import ParticleFCN
torch.set_num_threads({threads}); torch.manual_seed(0)
model = ParticleFCN(); opt = torch.optim.Adam(model.parameters()); x = torch.randn(24, 1, 96, 96)
def step():
    opt.zero_grad(); model(x).mean().backward(); opt.step()
step()
start = time.perf_counter()
for _ in range({steps}):
    step()
print(time.perf_counter() - start)
""",
    "pick": """
import glob, time, torch
from cryopick.pickers.fcn.general import general_model_path
from cryopick.runs.job import PickSpec, pick_one
spec = PickSpec("fcn", model_path=str(general_model_path()), diameter_A=120.0, threads={threads})
paths = sorted(glob.glob("{mics}/*.mrc"))
pick_one(spec, paths[0])
start = time.perf_counter()
for path in paths:
    pick_one(spec, path)
print(time.perf_counter() - start)
""",
}


def timed(code: str, policy: str, hogs: int) -> float:
    """Seconds the work reports, run in a fresh process beside ``hogs`` busy processes."""
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hogs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--mics", type=int, default=6)
    parser.add_argument("--json", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.mics = 2, 1
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryopick-load-") as tmp:
        from cryopick.simulate import SimulationConfig, simulate_dataset

        simulate_dataset(Path(tmp), SimulationConfig(n_micrographs=args.mics, shape=(1024, 1024), apix=2.0, seed=0))
        for work, template in WORK.items():
            code = template.format(threads=args.threads, steps=args.steps, mics=Path(tmp) / "micrographs")
            for policy in ("PASSIVE", "ACTIVE"):
                alone, loaded = timed(code, policy, 0), timed(code, policy, args.hogs)
                rows.append({"work": work, "omp_wait_policy": policy, "threads": args.threads, "hogs": args.hogs,
                             "alone_s": round(alone, 2), "loaded_s": round(loaded, 2),
                             "slowdown": round(loaded / alone, 2),
                             "fair_share": round(max(1.0, (args.hogs + args.threads) / cores), 2)})
    print(pd.DataFrame(rows).to_string(index=False))
    command = "python benchmarks/bench_load.py" + (" --quick" if args.quick else "")
    return write_report(args.json, {"benchmark": "load", "command": command, "cores": cores, "rows": rows})


if __name__ == "__main__":
    main()
