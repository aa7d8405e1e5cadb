"""Importing cryopick: the version, and the OpenMP wait policy that keeps it fair on shared cores."""

from __future__ import annotations

import os
import subprocess
import sys

import cryopick


def _policy_after_import(env: dict[str, str]) -> str:
    code = "import cryopick, os; print(os.environ.get('OMP_WAIT_POLICY'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_sets_a_passive_openmp_wait_policy_unless_one_is_set() -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert _policy_after_import(env) == "PASSIVE"
    assert _policy_after_import({**env, "OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


def test_version_is_a_string() -> None:
    assert isinstance(cryopick.__version__, str) and cryopick.__version__.count(".") == 2
