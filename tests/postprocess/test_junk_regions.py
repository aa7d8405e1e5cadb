"""Junk regions: large dark objects and carbon are masked, particles and noise are not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import Micrograph, read_micrograph
from cryopick.postprocess.junk_regions import (
    WORKING_DIAMETER_PX,
    JunkRegionConfig,
    high_contrast_mask,
    junk_region_mask,
    picks_outside,
)
from cryopick.preprocess import highpass, robust_normalise
from cryopick.simulate import SimulationConfig, simulate_micrograph
from cryopick.simulate.nuisances import JunkConfig
from tests.conftest import REPO

D = 16.0  # particle diameter at the working scale


def working_image(raw: np.ndarray) -> np.ndarray:
    """What the FCN picker sees: high-passed at 8 diameters, robust-normalised."""
    return robust_normalise(highpass(raw, 8 * D))


def as_micrograph(image: np.ndarray) -> Micrograph:
    """A micrograph at 1 Å/px, so a 16-Å particle is 16 px and nothing is downsampled."""
    return Micrograph("synthetic", Path("synthetic.mrc"), np.asarray(image, dtype=np.float32), 1.0)


def particle_field(rng: np.random.Generator, shape: tuple[int, int], fraction: float, contrast: float,
                   allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Dark discs of one diameter covering ``fraction`` of the (allowed) area, some touching; (image, centres)."""
    ny, nx = shape
    free = np.ones(shape, dtype=bool) if allowed is None else allowed
    target = fraction * free.sum() / (np.pi / 4 * D * D)
    centres: list[tuple[float, float]] = []
    for _ in range(40000):
        if len(centres) >= target:
            break
        x, y = rng.uniform(0, nx), rng.uniform(0, ny)
        if not free[int(y), int(x)]:
            continue
        if all((x - a) ** 2 + (y - b) ** 2 >= (0.92 * D) ** 2 for a, b in centres):
            centres.append((x, y))
    yy, xx = np.mgrid[:ny, :nx]
    image = np.zeros(shape, dtype=np.float32)
    for x, y in centres:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= (D / 2) ** 2] += contrast
    return image, np.array(centres)


def at(mask: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return mask[np.rint(xy[:, 1]).astype(int).clip(0, mask.shape[0] - 1),
                np.rint(xy[:, 0]).astype(int).clip(0, mask.shape[1] - 1)]


def irregular_blob(shape: tuple[int, int], centre: tuple[float, float], radius: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    theta = np.arctan2(yy - centre[1], xx - centre[0])
    rim = radius * (1 + sum(rng.normal(0, 0.12 / m) * np.cos(m * theta + rng.uniform(0, 6.3)) for m in range(2, 9)))
    return np.hypot(xx - centre[0], yy - centre[1]) <= rim


@pytest.mark.parametrize("seed", [0, 1])
def test_dark_irregular_blob_with_bright_rim_is_masked(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (256, 256)
    blob = irregular_blob(shape, (150, 110), 2.8 * D, seed)
    rim = irregular_blob(shape, (150, 110), 2.8 * D + 3, seed) & ~blob
    particles, centres = particle_field(rng, shape, 0.15, -1.0, ~irregular_blob(shape, (150, 110), 3.6 * D, seed))
    raw = particles + rng.normal(0, 1, shape).astype(np.float32) - 10.0 * blob + 4.0 * rim
    near = irregular_blob(shape, (150, 110), 2.8 * D + 1.0 * D, seed)
    for mask in (high_contrast_mask(working_image(raw), D), junk_region_mask(as_micrograph(raw), D)):
        assert mask[blob].mean() > 0.97
        assert mask[~near].mean() < 0.01  # nothing but the blob and its margin
        assert not at(mask, centres).any()


@pytest.mark.parametrize("carbon_fraction", [0.35, 0.6])
def test_carbon_like_textured_half_plane_is_masked(carbon_fraction: float) -> None:
    rng = np.random.default_rng(3)
    shape = (320, 320)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    edge = (1 - carbon_fraction) * shape[1] + 6 * np.sin(yy / 40.0)
    carbon = xx >= edge
    particles, centres = particle_field(rng, shape, 0.15, -1.0, xx < edge - 0.6 * D)
    noise = rng.normal(0, 1, shape).astype(np.float32) * np.where(carbon, 1.6, 1.0)  # more texture on carbon
    gradient = (yy / shape[0] - 0.5).astype(np.float32)  # a thickness ramp along the edge
    raw = particles + noise + gradient - 3.0 * carbon + 3.0 * (np.abs(xx - edge) < 2) * ~carbon  # dark, bright fringe
    mask = junk_region_mask(as_micrograph(raw), D)
    assert mask[carbon].mean() > 0.95
    assert mask[xx < edge - 1.5 * D].mean() < 0.01
    assert not at(mask, centres).any()
    # the FCN picker's own image alone misses carbon this faint: the high-pass flattens the step
    assert high_contrast_mask(working_image(raw), D)[carbon].mean() < 0.5


@pytest.mark.parametrize("contrast", [-1.0, -2.0])
def test_crowded_particles_are_not_masked(contrast: float) -> None:
    rng = np.random.default_rng(4)
    shape = (256, 256)
    particles, centres = particle_field(rng, shape, 0.4, contrast)
    assert len(centres) > 100
    raw = particles + rng.normal(0, 1, shape).astype(np.float32)
    assert high_contrast_mask(working_image(raw), D).mean() < 0.002
    mask = junk_region_mask(as_micrograph(raw), D)
    assert mask.mean() < 0.002
    assert not at(mask, centres).any()


def test_noise_gives_an_empty_mask() -> None:
    for seed in range(3):
        noise = np.random.default_rng(seed).normal(5600, 80, (256, 256)).astype(np.float32)
        assert junk_region_mask(as_micrograph(noise), D).mean() < 0.001
        assert high_contrast_mask(working_image(noise), D).mean() < 0.001


def test_shapes_and_types() -> None:
    rng = np.random.default_rng(5)
    image = rng.normal(0, 1, (200, 300)).astype(np.float32)
    image[40:120, 60:170] -= 8
    mask = high_contrast_mask(image, D)
    assert mask.dtype == bool and mask.shape == (200, 300) and mask[80, 110]
    # an original micrograph three times larger: the mask comes back at its own shape, or at another
    big = np.kron(image, np.ones((3, 3), dtype=np.float32)) + rng.normal(0, 1, (600, 900)).astype(np.float32)
    mic = Micrograph("big", Path("big.mrc"), big, 1.0)
    full = junk_region_mask(mic, 3 * D)
    assert full.dtype == bool and full.shape == (600, 900) and full[240, 330] and not full[550, 850]
    working = junk_region_mask(mic, 3 * D, shape=(200, 300))
    assert working.shape == (200, 300) and working[80, 110]
    assert WORKING_DIAMETER_PX == 16.0


def test_same_working_scale_as_the_fcn_picker() -> None:
    from cryopick.pickers.fcn.data import FCN_PREPROCESS

    assert FCN_PREPROCESS.working_diameter_px == WORKING_DIAMETER_PX


@pytest.mark.parametrize("field, value", [
    ("window_diameters", 0.2), ("window_diameters", float("nan")), ("block_diameters", 0.0),
    ("block_diameters", 1.5), ("dark_spreads", -1.0), ("dark_spreads", "1"), ("flood_spreads", 0.0),
    ("flood_floor_spreads", 0.0), ("close_diameters", -0.5), ("min_area_particles", float("inf")),
    ("margin_diameters", -1.0), ("highpass_diameters", 1.0), ("clip_spreads", 0.0), ("dark_spreads", True),
])
def test_bad_settings_are_rejected(field: str, value: object) -> None:
    with pytest.raises(CryopickError, match=field if field != "block_diameters" or value == 0.0 else "blocks"):
        JunkRegionConfig(**{field: value})


def test_bad_inputs_are_rejected() -> None:
    image = np.zeros((64, 64), dtype=np.float32)
    assert JunkRegionConfig(flood_spreads=None, close_diameters=0, margin_diameters=0).flood_spreads is None
    with pytest.raises(CryopickError):
        high_contrast_mask(np.zeros((2, 64, 64)), D)
    with pytest.raises(CryopickError):
        high_contrast_mask(np.full((64, 64), np.nan), D)
    with pytest.raises(CryopickError):
        high_contrast_mask(image, 0.0)
    with pytest.raises(CryopickError):
        high_contrast_mask(image, D, unfiltered=np.zeros((32, 32)))
    assert not high_contrast_mask(image, D).any()  # a constant image has nothing dark


def test_picks_outside() -> None:
    mask = np.zeros((10, 20), dtype=bool)
    mask[2:5, 3:8] = True
    xy = np.array([[4.0, 3.0], [7.4, 4.4], [8.0, 3.0], [4.0, 6.0], [-3.0, 3.0], [25.0, 3.0]])
    assert picks_outside(xy, mask).tolist() == [False, False, True, True, True, True]
    assert picks_outside(np.zeros((0, 2)), mask).shape == (0,)


def test_simulated_ice_and_carbon_are_masked_and_particles_are_not() -> None:
    junk = JunkConfig(ice_per_um2=30.0, dots_per_um2=150.0, aggregates_per_um2=30.0, carbon_edge_probability=1.0)
    config = SimulationConfig(n_micrographs=1, shape=(768, 768), apix=4.0, structures=("dumbbell",), junk=junk,
                              seed=2)
    result = simulate_micrograph(config, 0)
    mask = junk_region_mask(Micrograph(result.name, Path("sim.mrc"), result.image, 4.0), 197.4)
    objects = result.objects
    inside = (objects["x"].between(0, 767)) & (objects["y"].between(0, 767))
    ice = objects.loc[(objects["kind"] == "ice") & inside, ["x", "y"]].to_numpy()
    particles = objects.loc[objects["kind"] == "particle", ["x", "y"]].to_numpy()
    assert len(ice) >= 1 and at(mask, ice).all()
    assert at(mask, particles).sum() <= 1  # measured 1 of 31: touching the carbon edge, inside the margin
    assert 0.05 < mask.mean() < 0.8


def test_ucsf_contamination_is_masked(shared_data: Path) -> None:
    """The real micrograph against MicrographCleaner's contamination probability (> 0.5); d = its 46-px box."""
    folder = shared_data / "ucsf-micrograph-with-autopicks"
    mic = read_micrograph(folder / "Ucsf_stack_1142_DW.mrc")
    annotated = read_micrograph(folder / "Ucsf_stack_1142_DW.contamination_mask.mrc", apix=1.0).data > 0.5
    assert annotated.shape == mic.data.shape
    mask = junk_region_mask(mic, 46.0 * mic.apix)
    both = np.count_nonzero(mask & annotated)
    # measured 0.837, 0.969, 0.815 (benchmarks/results/junk_regions.json)
    assert both / mask.sum() > 0.80 and both / annotated.sum() > 0.94 and both / (mask | annotated).sum() > 0.78
    picks = read_coords(folder / "Ucsf_stack_1142_DW_autopick.star")[["x", "y"]].to_numpy()
    on_junk, removed = at(annotated, picks), ~picks_outside(picks, mask)
    assert removed[on_junk].mean() >= 0.66  # measured 9 of 12 (the rest sit on particle-sized blobs)
    assert removed[~on_junk].mean() <= 0.1  # measured 2 of 33, both within half a diameter of the ice


def test_real_micrographs_without_contamination_stay_unmasked(shared_data: Path) -> None:
    for name in ("epu2.9_example.mrc", "fei-extended.mrc"):
        mic = read_micrograph(shared_data / "real-micrographs-unlabeled" / name)
        assert junk_region_mask(mic, 150.0).mean() < 0.01  # measured 0


def test_benchmark_quick(tmp_path: Path) -> None:
    """The benchmark's smoke run (``--quick``), so it cannot silently rot."""
    import importlib.util
    import json
    import sys

    benchmarks = REPO / "benchmarks"
    if str(benchmarks) not in sys.path:
        sys.path.insert(0, str(benchmarks))  # the script imports its shared _common module
    spec = importlib.util.spec_from_file_location("bench_junk_regions", benchmarks / "bench_junk_regions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_junk_regions"] = module
    spec.loader.exec_module(module)
    report = module.main(["--quick", "--no-figure", "--json", str(tmp_path / "junk_regions.json")])
    assert json.loads((tmp_path / "junk_regions.json").read_text())["benchmark"] == "junk_regions"
    assert report["simulated_crowded_no_junk"]["summary"]["junk_region_mask / all"]["particles_in_mask"] == 0.0
    assert report["simulated_lots_of_junk"]["summary"]["junk_region_mask / all"]["particles_in_mask"] <= 0.02


def test_the_pickers_mask_reuses_its_crop_and_equals_the_micrographs_mask() -> None:
    """junk_region_mask_for(pre) is junk_region_mask at the working shape, without a second Fourier crop."""
    from cryopick.pickers.fcn.data import FCN_PREPROCESS
    from cryopick.io.micrographs import Micrograph
    from cryopick.postprocess.junk_regions import junk_region_mask, junk_region_mask_for
    from cryopick.preprocess import preprocess
    from cryopick.simulate import SimulationConfig, simulate_micrograph

    config = SimulationConfig.with_presets(junk="lots", n_micrographs=1, shape=(640, 512), apix=4.0,
                                           structures=("globular",), seed=5)
    result = simulate_micrograph(config, 0)
    mic = Micrograph("m", Path("m.mrc"), result.image, 4.0)
    pre = preprocess(mic, 116.0, FCN_PREPROCESS)
    assert pre.unfiltered is not None and pre.unfiltered.shape == pre.image.shape
    mask = junk_region_mask_for(pre)
    np.testing.assert_array_equal(mask, junk_region_mask(mic, 116.0, shape=pre.image.shape))
    assert 0 < mask.mean() < 0.5
    with pytest.raises(ValueError):
        junk_region_mask_for(preprocess(mic, 116.0, type(FCN_PREPROCESS)(working_diameter_px=16.0,
                                                                         highpass_diameters=None)))
