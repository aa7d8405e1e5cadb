"""Production scale (issue 6): many 1024x1024 micrographs in one `cryopick pick` run.

A few distinct micrographs are simulated and hard-linked under new names until there are
``--n`` of them (reading is not what is measured; each file is read and picked in full).
Each setup runs ``cryopick pick`` with the bundled general model as a child process,
whose resident memory is sampled every 0.1 s from /proc; memory is reported when 10%
and 100% of the micrographs are done (the issue's "RSS at 100 and at 1,000"), and at
its peak. Throughput is micrographs per second from the first finished micrograph to the
last (start-up excluded, reported on its own). Setups:

* ``single``: ``--workers 1``: one process, with a prefetch thread;
* ``workers2``: ``--workers 2`` (what the default chooses on 2 cores from 64 micrographs on);
* ``dask2``: ``--dask local --workers 2`` (a LocalCluster).

The outputs of all setups are compared byte for byte (they use one thread per picker
here, ``--threads 1``, so they must be identical). Prints a table, writes JSON.

    python benchmarks/bench_batch.py                 # 1,000 micrographs (about 15 min on 2 cores)
    python benchmarks/bench_batch.py --quick         # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import RESULTS, write_report

SETUPS = {"single": ["--workers", "1"], "workers2": ["--workers", "2"], "dask2": ["--dask", "local", "--workers", "2"]}


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total = 0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            children = [c for task in Path(f"/proc/{p}/task").iterdir()
                        for c in (task / "children").read_text().split()]
        except OSError:
            continue
        pids += [int(c) for c in children]
    return total / 1024.0


def run_setup(name: str, mics: Path, out: Path, n: int, diameter_A: float, device: str = "auto") -> dict:
    output = out / f"{name}.star"
    parts = out / f"{name}.star.parts" / "parts"
    command = [sys.executable, "-c", "from cryopick.cli import main; main()", "pick", str(mics), "--diameter",
               str(diameter_A), "--threads", "1", "--device", device, "-o", str(output), *SETUPS[name]]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples, marks, first, last = [], {}, None, None
    tenth = max(1, n // 10)
    while process.poll() is None:
        rss = _rss_mb(process.pid)
        done = sum(not f.startswith(".") for f in os.listdir(parts)) if parts.exists() else 0
        now = time.perf_counter() - start
        samples.append(rss)
        if done and first is None:
            first = (now, done)
        if done:
            last = (now, done)
        for mark in (tenth, n // 4, n // 2, 3 * n // 4, n):
            if done >= mark and mark not in marks:
                marks[mark] = max(samples[-10:])
        time.sleep(0.1)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{name} failed: {err}")
    wall = time.perf_counter() - start
    rate = (last[1] - first[1]) / (last[0] - first[0]) if last and first and last[0] > first[0] else float("nan")
    return {"setup": name, "n": n, "wall_s": round(wall, 1), "startup_s": round(first[0], 1) if first else None,
            "mic_per_s": round(rate, 3),
            **{f"rss_mb_at_{mark}": round(marks.get(mark, float("nan")), 1) for mark in sorted(marks)},
            "peak_rss_mb": round(max(samples), 1),
            "output": str(output)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="micrographs")
    parser.add_argument("--distinct", type=int, default=20, help="distinct simulated micrographs")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--quick", action="store_true", help="40 micrographs of 512, single and dask2")
    parser.add_argument("--json", type=Path, default=RESULTS / "batch.json")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--device", default="auto", help="cpu, cuda, auto (CUDA when present)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.distinct, args.size, args.setups = 40, 4, 512, ["single", "dask2"]
    from cryopick.simulate import SimulationConfig, simulate_dataset

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        simulate_dataset(work / "sim", SimulationConfig.with_presets(
            n_micrographs=args.distinct, shape=(args.size, args.size), apix=2.0, seed=6, junk="some"))
        sources = sorted((work / "sim" / "micrographs").glob("*.mrc"))
        mics = work / "mics"
        mics.mkdir()
        for i in range(args.n):
            os.link(sources[i % len(sources)], mics / f"mic_{i:05d}.mrc")
        rows = [run_setup(name, mics, work, args.n, 120.0, args.device) for name in args.setups]
        reference = Path(rows[0]["output"]).read_bytes()
        for row in rows:
            row["identical_to_first"] = Path(row.pop("output")).read_bytes() == reference
            print(" | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    report = {"command": "python benchmarks/bench_batch.py" + (" --quick" if args.quick else ""),
              "settings": {"n": args.n, "distinct": args.distinct, "size": args.size, "setups": args.setups,
                           "device": args.device},
              "rows": rows}
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
