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


@pytest.mark.parametrize("command", ["pick", "extract", "train"])
def test_piped_help_reads_whole(command: str) -> None:
    """Issue 17: piped help was hard-wrapped at 80 columns into ragged paragraphs, option names were cut
    (`--background-radi…`) and flags were shown as `<bool>`."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    done = subprocess.run([sys.executable, "-c", f"from cryopick.cli import main; main([{command!r}, '--help'])"],
                          capture_output=True, text=True, timeout=120, env=env)
    text = done.stdout
    assert done.returncode == 0, done.stderr
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    options = [line for line in lines if line.startswith("│") and "--" in line]
    assert options and not any("…" in line.split()[1 if line.split()[1] != "*" else 2] for line in options)
    flags = [line for line in options if "<bool>" in line]
    assert [line.split()[1] for line in flags] == ["--help"]  # flags take no value: no type shown
    paragraphs = [p for p in text.split("\n \n") if p.strip() and "│" not in p and "cryopick " not in p]
    # a paragraph fills its lines: none ends after a word or two unless it is the last line
    for paragraph in paragraphs:
        body = [line.strip() for line in paragraph.splitlines() if line.strip()]
        assert all(len(line) > 50 for line in body[:-1]), paragraph
