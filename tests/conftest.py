"""Shared fixtures: the real data beside the repository, and small simulated datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
"""The repository root (tests/ lies in it)."""

SHARED_DATA = REPO.parent / "shared" / "data"
"""CI clones the repository next to ``shared/``; a user's clone has no such folder."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real micrographs and structures in ../shared/data (skip where absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not present (only CI and developers have it)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's small convolutions on one PyTorch thread (restored afterwards).

    One thread is about as fast for these sizes, and immune to a busy second core: on a
    shared 2-core machine, PyTorch's OpenMP threads waiting for a descheduled sibling made
    the FCN training tests 5x slower (125 s instead of 24 s).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
