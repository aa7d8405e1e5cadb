"""The command line starts light: importing it, --version and every --help load none of the heavy libraries.

Each check runs in a fresh interpreter (this one has loaded everything long ago) and looks
at ``sys.modules``; it tests what is imported, not how long it takes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import cryopick.cli

HEAVY = ("torch", "dask", "scipy", "pandas", "numpy")
"""Libraries that cost seconds to import; the library imports them, the command line only when it runs."""

CLI_MODULES = sorted(f"cryopick.cli.{path.stem}" for path in Path(cryopick.cli.__file__).parent.glob("*.py")
                     if path.stem != "__init__")
COMMANDS = ("simulate", "train", "pick", "evaluate", "convert", "clean", "extract", "train-general", "report",
            "review")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy libraries loaded once ``code`` has run in a fresh interpreter."""
    check = f"{code}\nimport sys\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1].split()
    assert last[0] == "loaded:", done.stdout
    return last[1:]


@pytest.mark.parametrize("module", ["cryopick", "cryopick.cli", *CLI_MODULES])
def test_importing_the_command_line_loads_no_heavy_library(module: str) -> None:
    assert heavy_modules_after(f"import {module}") == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], *([command, "--help"] for command in COMMANDS)],
                         ids=" ".join)
def test_version_and_help_load_no_heavy_library(args: list[str]) -> None:
    code = (f"from cryopick.cli import main\ntry:\n    main({args!r})\n"
            "except SystemExit as done:\n    assert not done.code")
    assert heavy_modules_after(code) == []


def test_every_command_is_checked() -> None:
    from cryopick.cli._app import app

    registered = {command.name for command in app.registered_commands}
    assert registered == set(COMMANDS)
