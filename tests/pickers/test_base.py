"""cryopick.pickers.base: the picker interface's candidates (a picker through a whole run is in test_registry.py)."""

from __future__ import annotations

import numpy as np

from cryopick.pickers.base import Candidates


def test_candidates_keep_and_first() -> None:
    found = Candidates(np.arange(4.0), np.arange(4.0) + 10, np.array([0.9, 0.8, 0.7, 0.6]))
    kept = found.keep(np.array([True, False, True, True]))
    assert kept.size == 3 and kept.x.tolist() == [0.0, 2.0, 3.0] and kept.first(2).score.tolist() == [0.9, 0.7]
