"""`cryopick train` and `train-general` load nothing heavy until they run, so `cryopick --help` stays quick."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cryopick

CLI = Path(cryopick.__file__).parent / "cli"
LIGHT = {"__future__", "enum", "pathlib", "typing", "typer", "cryopick.errors"}
HEAVY = ("numpy", "pandas", "torch", "scipy", "dask", "cryopick.io", "cryopick.pickers")


@pytest.mark.parametrize("module", ["train.py", "train_general.py"])
def test_module_level_imports_are_light(module: str) -> None:
    tree = ast.parse((CLI / module).read_text())
    imported = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= LIGHT, imported - LIGHT


@pytest.mark.parametrize("module", ["train.py", "train_general.py"])
def test_loading_the_command_imports_no_heavy_package(module: str) -> None:
    code = ("import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('command', {str(CLI / module)!r})\n"
            "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            f"print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith({HEAVY!r})])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
