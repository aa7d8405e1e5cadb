"""Shared by the run tests (test_batch, test_state): eight simulated micrographs and `cryopick pick`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.simulate import SimulationConfig, simulate_dataset
from tests.cli.test_cli import run_cli

DIAMETER_A = 120.0


@pytest.fixture(scope="module")
def mics(tmp_path_factory) -> Path:
    """Eight small simulated micrographs (non-square) with truth."""
    out = tmp_path_factory.mktemp("batch")
    simulate_dataset(out, SimulationConfig.with_presets(n_micrographs=8, shape=(384, 448), apix=2.0, seed=3))
    return out / "micrographs"


def _pick(args: list, capsys) -> tuple[int, str]:
    code, _, err = run_cli(["pick", *args], capsys)
    return code, err
