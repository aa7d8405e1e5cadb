"""The README's tour, run as written: every command, its exit status and its time.

Reads the ```bash block under "A short tour" in README.md, joins continued lines, and
runs each command in order in a fresh folder with this environment's ``cryopick`` first
on PATH, as a user pastes them. A command that fails is reported with its last line of
output and the run goes on. The times are what the README quotes.

    python benchmarks/bench_tour.py                       # the whole tour (~15 minutes on 2 cores)
    python benchmarks/bench_tour.py --skip train-general  # leave out commands containing a text
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_commands(readme: Path = README) -> list[str]:
    """The shell commands of the README's tour block, continued lines joined, comments dropped."""
    text = readme.read_text()
    start = text.index("## A short tour")
    block = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    if block is None:
        raise SystemExit("no ```bash block under '## A short tour' in README.md")
    commands, current = [], ""
    for raw in block.group(1).splitlines():
        line = raw.split("  #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if c]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", nargs="*", default=[], help="leave out commands containing any of these texts")
    parser.add_argument("--json", type=Path, default=RESULTS / "tour.json")
    args = parser.parse_args(argv)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryopick-tour-") as folder:
        for command in tour_commands():
            if any(text in command for text in args.skip):
                rows.append({"command": command, "exit": None, "seconds": None, "last_line": "skipped"})
                continue
            start = time.perf_counter()
            done = subprocess.run(shlex.split(command), cwd=folder, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            output = (done.stderr + done.stdout).strip().splitlines()
            rows.append({"command": command, "exit": done.returncode, "seconds": round(seconds, 1),
                         "last_line": output[-1][:100] if output else ""})
            print(f"{seconds:7.1f} s  exit {done.returncode}  {command[:90]}", flush=True)
    table = pd.DataFrame(rows)
    print(table[["seconds", "exit", "command"]].to_string(index=False, max_colwidth=90))
    failed = [r["command"] for r in rows if r["exit"] not in (0, None)]
    return write_report(args.json, {"commands": rows, "failed": failed,
                                    "total_seconds": round(sum(r["seconds"] or 0 for r in rows), 1)})


if __name__ == "__main__":
    report = main()
    sys.exit(1 if report["failed"] else 0)
