"""cryopick.simulate.config: SimulationConfig refuses impossible settings, round-trips, hashes what makes pixels."""

from __future__ import annotations

import pytest

from cryopick.errors import CryopickError
from cryopick.simulate.config import SimulationConfig
from tests.simulate.conftest import small


@pytest.mark.parametrize(
    "changes, needle",
    [
        (dict(n_micrographs=-1), "number of micrographs"),
        (dict(shape=(0, 256)), "size"),
        (dict(apix=0.0), "pixel size"),
        (dict(snr=0.0), "SNR"),
        (dict(snr=float("nan")), "SNR"),
        (dict(label_fraction=1.5), "label fraction"),
        (dict(wrong_label_fraction=-0.1), "wrong label fraction"),
        (dict(defocus_range_um=(2.0, 1.0)), "defocus"),
        (dict(particle_area_fraction=0.9), "packing"),
        (dict(junk="heaps"), "junk"),
    ],
)
def test_bad_config_is_a_user_error(changes: dict, needle: str) -> None:
    with pytest.raises(CryopickError, match=needle) as info:
        small(**changes)
    assert info.value.fix


def test_a_config_round_trips_through_plain_values() -> None:
    config = small(junk="lots", defocus_range_um=(1, 2), label_fraction=0.3)
    assert config.defocus_range_um == (1.0, 2.0) and config.junk.any  # a preset name becomes its JunkConfig
    assert SimulationConfig.from_dict(config.to_dict()) == config
    assert SimulationConfig.from_dict({**config.to_dict(), "from_a_later_version": 1}) == config


def test_the_image_hash_leaves_out_what_does_not_change_pixels() -> None:
    config = small()
    assert config.replace(n_micrographs=9, label_fraction=0.5, wrong_label_fraction=0.1).image_hash() == \
        config.image_hash()
    assert config.replace(seed=1).image_hash() != config.image_hash()
    assert config.replace(dose_e_per_A2=80.0).image_hash() != config.image_hash()


def test_presets_set_crowding_and_junk() -> None:
    crowded = SimulationConfig.with_presets(crowding="crowded", junk="none", n_micrographs=1)
    sparse = SimulationConfig.with_presets(crowding="sparse", junk="none", n_micrographs=1)
    assert crowded.particle_area_fraction > sparse.particle_area_fraction and not crowded.junk.any
    assert SimulationConfig.with_presets(particle_area_fraction=0.1).particle_area_fraction == 0.1  # kept as given
    with pytest.raises(CryopickError, match="unknown crowding 'packed'"):
        SimulationConfig.with_presets(crowding="packed")
