"""cryopick.simulate.micrograph: image formation (determinism, contrast, Thon rings, SNR, dose) and the junk mask."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from cryopick.simulate.config import SimulationConfig
from cryopick.simulate.ctf import ctf_1d, power_spectrum_1d
from cryopick.simulate.dataset import load_structures
from cryopick.simulate.micrograph import simulate_micrograph
from tests.simulate.conftest import ALL_JUNK, discs, simulate, small


def test_same_seed_same_micrograph_and_truth_other_seed_differs() -> None:
    config = small(junk=ALL_JUNK)
    a, b = simulate(config), simulate(config)
    np.testing.assert_array_equal(a.image, b.image)
    pd.testing.assert_frame_equal(a.objects, b.objects)
    c = simulate(config.replace(seed=1))
    assert not np.array_equal(a.image, c.image)
    assert not a.objects[["x", "y"]].equals(c.objects[["x", "y"]])
    d = simulate(config, index=1)
    assert not np.array_equal(a.image, d.image)


def test_particles_are_darker_than_the_background() -> None:
    config = small(shape=(384, 384), particle_area_fraction=0.2, defocus_range_um=(2.0, 2.5))
    result = simulate(config)
    inside = discs(result.objects, config.shape, scale=0.4)
    outside = ~discs(result.objects, config.shape, scale=0.8)
    assert result.image[inside].mean() < result.image[outside].mean() - 0.5 * result.image[outside].std() / 10
    # also in the noise-free image, by a clear margin
    clean = simulate(config, keep_parts=True).parts["clean"]
    assert clean[inside].mean() < clean[outside].mean() - 0.005


def test_counts_are_plausible_and_float32() -> None:
    result = simulate(small())
    assert result.image.dtype == np.float32
    assert 4500 < float(np.median(result.image)) < 6500
    assert np.isfinite(result.image).all()


def test_thon_rings_follow_the_drawn_defocus() -> None:
    config = small(shape=(512, 512), apix=2.0, dose_e_per_A2=200.0, ice_texture=1.0, bfactor_A2=20.0,
                   particle_area_fraction=0.2, defocus_range_um=(1.5, 2.5), astigmatism_um=0.0)
    result = simulate(config)
    freq, power = power_spectrum_1d(result.image, config.apix, tile=256)
    sel = (freq > 0.03) & (freq < 0.2)
    smooth = np.convolve(np.log(power), np.ones(9) / 9, mode="same")
    rings = np.log(power) - smooth

    def score(defocus_A: float) -> float:
        params = result.ctf.__class__(defocus_A, defocus_A, bfactor_A2=20.0)
        c2 = ctf_1d(freq, params) ** 2
        return float(np.corrcoef(rings[sel], (c2 - np.convolve(c2, np.ones(9) / 9, mode="same"))[sel])[0, 1])

    true = score(result.ctf.defocus_mean_A)
    assert true > 0.5
    assert true > score(0.7 * result.ctf.defocus_mean_A) + 0.2
    assert true > score(1.3 * result.ctf.defocus_mean_A) + 0.2


@pytest.mark.parametrize("snr", [0.05, 0.5])
def test_snr_is_honoured(snr: float) -> None:
    config = small(shape=(512, 512), particle_area_fraction=0.05, touching_fraction=0.0, snr=snr)
    result = simulate(config, keep_parts=True)
    inside = discs(result.objects, config.shape, scale=0.5)
    signal = float(np.mean(result.parts["particles"][inside] ** 2))
    background = ~discs(result.objects, config.shape, scale=1.0)
    noise_var = float(np.var(result.parts["noise"][background] / np.sqrt(result.parts["clean"][background])))
    assert signal / noise_var == pytest.approx(snr, rel=0.5)
    assert noise_var == pytest.approx(result.noise_sigma**2, rel=0.05)


def test_dose_sets_the_noise_when_no_snr_is_given() -> None:
    low = simulate(small(dose_e_per_A2=10.0))
    high = simulate(small(dose_e_per_A2=160.0))
    assert low.noise_sigma == pytest.approx(1 / np.sqrt(10.0 * 16.0))
    assert high.noise_sigma == pytest.approx(low.noise_sigma / 4)
    assert np.std(np.diff(low.image, axis=1)) > 2.5 * np.std(np.diff(high.image, axis=1))


def test_non_square_micrographs_keep_rows_and_columns() -> None:
    config = small(shape=(200, 360), junk=ALL_JUNK)
    result = simulate(config)
    assert result.image.shape == (200, 360)
    p = result.objects
    assert (p["x"] < 360).all() and (p["y"] < 200).all() and (p["x"] >= 0).all() and (p["y"] >= 0).all()


def test_junk_mask_covers_every_junk_object_and_no_good_particle() -> None:
    config = small(shape=(512, 384), junk=ALL_JUNK)
    result = simulate(config)
    mask = result.junk_mask
    assert mask is not None and mask.shape == (512, 384) and mask.dtype == bool
    inside = result.objects.query("0 <= x < 384 and 0 <= y < 512")
    for kind in ("ice", "dot", "aggregate", "carbon_edge"):
        junk = inside.query("kind == @kind")
        assert len(junk), kind
        hits = mask[np.rint(junk["y"]).astype(int).clip(0, 511), np.rint(junk["x"]).astype(int).clip(0, 383)]
        assert hits.all(), kind
    particles = inside.query("kind == 'particle'")
    assert len(particles) > 5
    assert not mask[particles["y"].astype(int), particles["x"].astype(int)].any()
    assert not simulate(small(shape=(512, 384))).junk_mask.any()


@pytest.mark.slow
def test_a_4096_micrograph() -> None:
    config = SimulationConfig(n_micrographs=1, shape=(4096, 4096), apix=1.0, structures=("globular",))
    structures = load_structures(config)
    result = simulate_micrograph(config, 0, structures)  # its time: benchmarks/bench_speed.py
    assert result.image.shape == (4096, 4096)
