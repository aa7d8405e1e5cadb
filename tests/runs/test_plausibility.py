"""Pick runs whose diameter no particle has, or whose picks pack tighter than particles fit, say so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.runs.plausibility import crowding_warning, diameter_warning
from tests.cli.test_bad_inputs import write_mic
from tests.cli.test_cli import run_cli


@pytest.mark.parametrize(("diameter_A", "needle"), [(12.0, "not nm: 120 Å?"), (5000.0, "larger than particles come")])
def test_implausible_diameters_are_told(diameter_A: float, needle: str) -> None:
    line = diameter_warning(diameter_A)
    assert line is not None and line.startswith("warning: ") and needle in line and "fix: " in line


@pytest.mark.parametrize("diameter_A", [45.0, 120.0, 300.0, 2000.0])
def test_plausible_diameters_pass(diameter_A: float) -> None:
    assert diameter_warning(diameter_A) is None


def test_picks_covering_more_than_particles_can_are_told() -> None:
    area = 1000.0 * 1000.0
    assert crowding_warning(100, 50.0, area) is None  # 20% covered: a crowded field
    line = crowding_warning(400, 50.0, area)  # 79%
    assert line is not None and "cover 79%" in line and "fix: check --diameter" in line
    assert crowding_warning(400, None, area) is None and crowding_warning(0, 50.0, area) is None


def test_pick_with_a_diameter_in_nm_warns_and_still_picks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17: `--diameter 12` at 2 Å/px picked 881 'particles' a micrograph with exit 0 and not a word."""
    mic = write_mic(tmp_path / "a.mrc", np.random.default_rng(0).normal(size=(200, 300)))
    code, _, err = run_cli(["pick", mic, "--method", "log", "--diameter", 12, "-o", tmp_path / "p.star"], capsys)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "below any particle" in warnings[0]
    code, _, err = run_cli(["pick", mic, "--method", "log", "--diameter", 60, "-o", tmp_path / "q.star"], capsys)
    assert code == 0 and "warning:" not in err, err
