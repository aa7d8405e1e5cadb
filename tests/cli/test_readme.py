"""The README's tour parses as written, and messages keep to one line in a log file.

Running the whole tour takes minutes (``benchmarks/bench_tour.py`` runs and times it);
here each command's subcommand, options and their values are checked by the command
line's own parser, so a renamed or removed option in the README fails the suite.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from cryopick.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_tour import tour_commands  # noqa: E402

COMMANDS = tour_commands()


def test_the_tour_has_its_commands() -> None:
    assert len(COMMANDS) >= 15 and all(c.startswith("cryopick ") for c in COMMANDS)
    outputs = [c.split(" -o ")[1].split()[0] for c in COMMANDS if c.startswith("cryopick pick ") and " -o " in c]
    assert len(outputs) == len(set(outputs)), "two pick lines write one file: the second only resumes the first"


@pytest.mark.parametrize("command", COMMANDS, ids=[c[:60] for c in COMMANDS])
def test_each_tour_command_parses(command: str) -> None:
    group = typer.main.get_command(app)
    name, *args = shlex.split(command)[1:]
    sub = group.get_command(None, name)  # type: ignore[arg-type]
    assert sub is not None, f"no subcommand {name!r}"
    with sub.make_context(name, args, resilient_parsing=False):
        pass


def test_a_long_message_stays_one_line_in_a_log_file() -> None:
    """Issue 17: training log lines wrapped mid-line when written to a file."""
    line = "round 1 epoch  12  loss 0.1234  " * 8
    done = subprocess.run([sys.executable, "-c", f"from cryopick.cli._common import say; say({line!r})"],
                          capture_output=True, text=True, timeout=60)
    assert done.stderr == line + "\n"


def test_pick_help_states_the_thresholds_the_models_have() -> None:
    """Issue 17: `pick --help` said the default threshold was 0.5 while the model picked at 0.386."""
    from cryopick.cli.pick import GENERAL_MODEL_THRESHOLD
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.fcn.config import FCNTrainConfig
    from cryopick.pickers.fcn.general import general_model_path
    from cryopick.pickers.log import LoGConfig

    assert round(load_model(general_model_path()).threshold, 3) == GENERAL_MODEL_THRESHOLD
    assert FCNTrainConfig().default_threshold == 0.3
    assert LoGConfig().auto_threshold == 2.5
