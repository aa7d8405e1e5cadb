"""cryopick simulate (placeholder until the simulator lands)."""

from __future__ import annotations

from pathlib import Path

import typer


def simulate_command(out: Path = typer.Argument(...)) -> None:
    """Simulate micrographs with truth."""
    raise NotImplementedError
