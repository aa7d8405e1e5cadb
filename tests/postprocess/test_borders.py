"""cryopick.postprocess.borders: blank, padded and striped edge bands are found, clean edges are not."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.io.micrographs import Micrograph
from cryopick.pickers.fcn.data import FCN_PREPROCESS
from cryopick.postprocess.borders import Bands, border_bands, outside_bands
from cryopick.preprocess import preprocess
from cryopick.simulate import SimulationConfig, simulate_micrograph

APIX, DIAMETER_A = 2.0, 120.0  # 60 px particles: the working scale is 1/3.75


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    """A simulated micrograph (non-square) with particles and no edge artefacts."""
    config = SimulationConfig.with_presets(n_micrographs=1, shape=(900, 1100), apix=APIX, seed=4)
    return np.asarray(simulate_micrograph(config, 0).image, dtype=np.float32)


def _bands(image: np.ndarray) -> tuple[Bands, float]:
    pre = preprocess(Micrograph("m", None, image, APIX), DIAMETER_A, FCN_PREPROCESS)
    return border_bands(pre.image, pre.diameter_px), pre.scale_x


def test_a_clean_micrograph_has_no_bands(clean: np.ndarray) -> None:
    assert _bands(clean)[0] == Bands()


def test_striped_and_padded_edges_are_found(clean: np.ndarray) -> None:
    image = clean.copy()
    spread = float(image.std())
    image[:90] += np.where((np.arange(90) // 15) % 2 == 0, 3.0, -3.0)[:, None].astype(np.float32) * spread  # stripes
    image[:, -120:] = float(np.median(image))  # padded with a constant
    bands, scale = _bands(image)
    assert bands.bottom == 0 and bands.left == 0
    assert 90 / scale - 4 <= bands.top <= 90 / scale + 6  # working pixels (the high-pass blurs the edge a little)
    assert 120 / scale - 4 <= bands.right <= 120 / scale + 6


def test_outside_bands_keeps_what_is_half_a_diameter_clear() -> None:
    x = np.array([5.0, 50.0, 95.0, 50.0])
    y = np.array([50.0, 50.0, 50.0, 3.0])
    keep = outside_bands(x, y, (100, 100), Bands(top=4, right=0, left=6), margin_px=8.0)
    assert keep.tolist() == [False, True, True, False]


def test_the_fcn_picks_nothing_in_a_striped_or_padded_band(clean: np.ndarray) -> None:
    """The general model scores the stripes and the pad's edge; the picker leaves them out (--no-border-bands keeps them)."""
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.fcn.general import general_model_path
    from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn

    image = clean.copy()
    spread = float(image.std())
    image[:90] += np.where((np.arange(90) // 15) % 2 == 0, 3.0, -3.0)[:, None].astype(np.float32) * spread
    image[:, -120:] = float(np.median(image))
    mic = Micrograph("m", None, image, APIX)
    loaded = load_model(general_model_path())
    counts = {}
    for dropped in (True, False):
        picks = pick_fcn(mic, loaded, DIAMETER_A, FCNPickConfig(border_bands=dropped))
        counts[dropped] = (len(picks), int(((picks["y"] < 90 + 30) | (picks["x"] > 1100 - 120 - 30)).sum()))
    assert counts[True][1] == 0 and counts[False][1] > 0  # half a diameter (30 px) clear of each band
    assert counts[True][0] > 30  # the rest of the micrograph is still picked
