"""What every benchmark script shares: the hardware label and writing its JSON report."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
"""Where the JSON that docs/benchmarks.md quotes is written."""


def hardware() -> str:
    """A short label of the machine the figures were measured on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    accelerator = "CPU only"
    try:
        import torch

        if torch.cuda.is_available():
            accelerator = f"GPU {torch.cuda.get_device_name(0)}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return f"{platform.machine()}, {cores} CPU cores, {accelerator}, Python {sys.version.split()[0]}"


def write_report(path: Path, report: dict) -> dict:
    """Write ``report`` (with the hardware label added) as JSON and say where."""
    report = {**report, "hardware": hardware()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return report
