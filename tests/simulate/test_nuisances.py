"""cryopick.simulate.nuisances: ice, dots, aggregates and the carbon edge where asked, none without, never on a particle."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.simulate.nuisances import JUNK_PRESETS, junk_preset
from tests.simulate.conftest import ALL_JUNK, discs, simulate, small


def test_junk_kinds_are_present_when_asked_and_absent_without() -> None:
    config = small(shape=(512, 512), junk=ALL_JUNK)
    result = simulate(config, keep_parts=True)
    kinds = set(result.objects["kind"])
    assert {"particle", "ice", "dot", "aggregate", "carbon_edge"} <= kinds
    assert set(result.decoys["kind"]) <= {"ice", "dot", "aggregate", "carbon_edge"}
    # ice and dots are much darker than particles
    clean = result.parts["clean"]
    for kind, scale in (("ice", 0.3), ("dot", 0.3)):
        assert clean[discs(result.objects, config.shape, kind, scale)].mean() < 0.8
    assert clean[discs(result.objects, config.shape, "particle", 0.4)].mean() > 0.9
    # no good particle sits on junk
    particles = result.objects.query("kind == 'particle'")
    for kind in ("ice", "dot", "aggregate"):
        junk = result.objects.query("kind == @kind")
        d = np.hypot(particles["x"].to_numpy()[:, None] - junk["x"].to_numpy()[None, :],
                     particles["y"].to_numpy()[:, None] - junk["y"].to_numpy()[None, :])
        need = 0.5 * (particles["diameter_px"].to_numpy()[:, None] + junk["diameter_px"].to_numpy()[None, :])
        assert (d >= need - 1.0).all(), kind
    none = simulate(small(shape=(512, 512)))
    assert set(none.objects["kind"]) == {"particle"}
    assert none.decoys.empty


def test_junk_presets_by_name() -> None:
    assert junk_preset("none") is JUNK_PRESETS["none"] and not junk_preset("none").any
    assert junk_preset("some").any and junk_preset("lots").ice_per_um2 > junk_preset("some").ice_per_um2
    with pytest.raises(CryopickError, match="unknown junk amount 'heaps'") as caught:
        junk_preset("heaps")
    assert caught.value.fix == "use one of none, some, lots"
