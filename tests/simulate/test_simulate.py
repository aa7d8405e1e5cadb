"""The micrograph simulator: determinism, layout, image formation, junk, labels, files, re-runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.simulate.ctf import ctf_1d, power_spectrum_1d
from cryopick.errors import CryopickError
from cryopick.simulate import (
    JUNK_PRESETS,
    JunkConfig,
    SimulationConfig,
    load_structures,
    simulate_dataset,
    simulate_micrograph,
)
from cryopick.simulate.layout import Discs, place_discs

NO_JUNK = JUNK_PRESETS["none"]
ALL_JUNK = JunkConfig(ice_per_um2=60.0, dots_per_um2=600.0, aggregates_per_um2=150.0, carbon_edge_probability=1.0)


def small(**changes: object) -> SimulationConfig:
    """A fast config: 256 x 320 px at 4 Å/px, globular particles, no junk unless asked."""
    base = dict(n_micrographs=2, shape=(256, 320), apix=4.0, structures=("globular",), junk=NO_JUNK)
    base.update(changes)
    return SimulationConfig(**base)  # type: ignore[arg-type]


def simulate(config: SimulationConfig, index: int = 0, **kwargs: object):
    return simulate_micrograph(config, index, load_structures(config), **kwargs)


def discs(objects: pd.DataFrame, shape: tuple[int, int], kind: str = "particle", scale: float = 0.5) -> np.ndarray:
    """Boolean mask of the discs (radius = scale * diameter) of objects of one kind."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = np.zeros(shape, bool)
    for row in objects.loc[objects["kind"] == kind].itertuples():
        mask |= (xx - row.x) ** 2 + (yy - row.y) ** 2 <= (scale * row.diameter_px) ** 2
    return mask


# --- determinism ---------------------------------------------------------------------


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


def test_micrograph_i_does_not_depend_on_the_number_of_micrographs(tmp_path: Path) -> None:
    config = small(label_fraction=0.5, wrong_label_fraction=0.2)
    simulate_dataset(tmp_path / "two", config.replace(n_micrographs=2))
    simulate_dataset(tmp_path / "three", config.replace(n_micrographs=3))
    for name in ("mic_0000", "mic_0001"):
        with mrcfile.open(tmp_path / "two" / "micrographs" / f"{name}.mrc") as a, \
                mrcfile.open(tmp_path / "three" / "micrographs" / f"{name}.mrc") as b:
            np.testing.assert_array_equal(a.data, b.data)
    for table in ("objects.csv", "labels_wrong.csv"):
        two = pd.read_csv(tmp_path / "two" / table)
        three = pd.read_csv(tmp_path / "three" / table)
        pd.testing.assert_frame_equal(two, three.loc[three["micrograph"] != "mic_0002"].reset_index(drop=True))


# --- layout ----------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.03, 0.15, 0.35])
def test_particles_inside_not_overlapping_at_the_requested_density(fraction: float) -> None:
    config = small(shape=(384, 384), particle_area_fraction=fraction, touching_fraction=0.0)
    objects = simulate(config).objects
    p = objects.loc[objects["kind"] == "particle"]
    assert len(p) > 0
    assert (p["x"] >= 0).all() and (p["x"] < 384).all() and (p["y"] >= 0).all() and (p["y"] < 384).all()
    xy = p[["x", "y"]].to_numpy()
    r = 0.5 * p["diameter_px"].to_numpy()
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(dist, np.inf)
    assert (dist >= (r[:, None] + r[None, :]) - 1.0).all()  # 1 px: centres rounded to pixels
    area = float((np.pi * r**2).sum()) / (384 * 384)
    assert area == pytest.approx(fraction, rel=0.25)


def test_crowded_mode_places_touching_pairs() -> None:
    config = small(shape=(384, 384), particle_area_fraction=0.35, touching_fraction=0.5)
    p = simulate(config).objects.query("kind == 'particle'")
    touching = p.loc[p["touching"]]
    assert len(touching) >= 0.2 * len(p)
    xy = p[["x", "y"]].to_numpy()
    d = p["diameter_px"].to_numpy()
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(dist, np.inf)
    nearest = (dist / (0.5 * (d[:, None] + d[None, :]))).min(axis=1)
    assert np.median(nearest[p["touching"].to_numpy()]) < 1.02  # in contact
    assert nearest.min() > 0.8  # touching, never on top of each other


def test_place_discs_respects_obstacles_and_forbidden_regions() -> None:
    rng = np.random.default_rng(0)
    placed = Discs()
    placed.add(100, 100, 40)
    forbidden = [lambda x, y: 150.0 - x]  # x > 150 is forbidden
    out = place_discs(rng, (200, 300), np.full(50, 8.0), placed, clearances=forbidden)
    assert len(out.x) > 5
    assert (out.x + 8.0 < 150.0).all()
    assert (np.hypot(out.x - 100, out.y - 100) >= 48.0).all()


# --- image formation -------------------------------------------------------------------


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


# --- junk --------------------------------------------------------------------------------


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


# --- dataset, labels, files ---------------------------------------------------------------


def test_dataset_files_exist_and_reload(tmp_path: Path) -> None:
    config = small(n_micrographs=2, junk=ALL_JUNK, label_fraction=0.5, wrong_label_fraction=0.25)
    summary = simulate_dataset(tmp_path, config)
    for name in ("truth.star", "objects.csv", "labels.star", "labels_wrong.csv", "micrographs.star",
                 "simulation.json"):
        assert (tmp_path / name).is_file(), name
    with mrcfile.open(tmp_path / "micrographs" / "mic_0001.mrc") as mrc:
        assert mrc.data.shape == (256, 320) and mrc.data.dtype == np.float32
        assert float(mrc.voxel_size.x) == pytest.approx(4.0)
    objects = pd.read_csv(tmp_path / "objects.csv")
    truth = starfile.read(tmp_path / "truth.star")
    truth = truth["particles"] if isinstance(truth, dict) else truth
    assert len(truth) == summary.n_particles == int((objects["kind"] == "particle").sum())
    good = objects.query("kind == 'particle'")
    np.testing.assert_allclose(np.sort(truth["rlnCoordinateX"].to_numpy()), np.sort(good["x"].to_numpy()))
    mics = starfile.read(tmp_path / "micrographs.star")
    info = json.loads((tmp_path / "simulation.json").read_text())
    assert info["config"]["apix"] == 4.0 and info["config_hash"] == config.image_hash()
    assert SimulationConfig.from_dict(info["config"]) == config
    np.testing.assert_allclose(mics["micrographs"]["rlnDefocusU"], [m["defocus_u_A"] for m in info["micrographs"]])
    assert float(mics["optics"]["rlnMicrographPixelSize"][0]) == 4.0
    # junk masks, named like the micrographs and of their (non-square) shape, as --background-masks reads them
    from cryopick.io.masks import find_mask, read_mask

    for name in ("mic_0000", "mic_0001"):
        mask = read_mask(find_mask(tmp_path / "junk_masks", name), (256, 320))
        assert 0 < mask.mean() < 1


def test_label_and_wrong_label_fractions_are_honoured(tmp_path: Path) -> None:
    config = small(n_micrographs=3, shape=(384, 384), particle_area_fraction=0.25, junk=ALL_JUNK,
                   label_fraction=0.4, wrong_label_fraction=0.3)
    summary = simulate_dataset(tmp_path, config)
    objects = pd.read_csv(tmp_path / "objects.csv")
    wrong = pd.read_csv(tmp_path / "labels_wrong.csv")
    labels = starfile.read(tmp_path / "labels.star")
    labels = labels["particles"] if isinstance(labels, dict) else labels
    assert summary.n_labels == len(labels)
    assert summary.n_labels == pytest.approx(0.4 * summary.n_particles, abs=3)
    assert len(wrong) == pytest.approx(0.3 * summary.n_labels, abs=3)
    assert set(wrong["kind"]) <= {"ice", "dot", "aggregate", "carbon_edge", "background"}
    names = labels["rlnMicrographName"].map(lambda m: Path(str(m)).stem)
    good = objects.query("kind == 'particle'")
    n_on_particles = 0
    for name, x, y in zip(names, labels["rlnCoordinateX"], labels["rlnCoordinateY"]):
        g = good.loc[good["micrograph"] == name]
        on_particle = bool((np.hypot(g["x"] - x, g["y"] - y) < 0.25 * g["diameter_px"]).any())
        is_wrong = bool(((wrong["micrograph"] == name) & np.isclose(wrong["x"], x, atol=1e-3)
                         & np.isclose(wrong["y"], y, atol=1e-3)).any())
        assert on_particle != is_wrong  # each label is either a real particle or listed as wrong
        n_on_particles += on_particle
    assert n_on_particles == summary.n_labels - len(wrong)


def test_rerun_skips_finished_micrographs_and_redraws_only_labels(tmp_path: Path) -> None:
    config = small(n_micrographs=2, label_fraction=1.0)
    first = simulate_dataset(tmp_path, config)
    assert (first.n_simulated, first.n_skipped) == (2, 0)
    mrc = tmp_path / "micrographs" / "mic_0000.mrc"
    stamp = mrc.stat().st_mtime_ns
    again = simulate_dataset(tmp_path, config)
    assert (again.n_simulated, again.n_skipped) == (0, 2)
    assert mrc.stat().st_mtime_ns == stamp
    relabel = simulate_dataset(tmp_path, config.replace(label_fraction=0.5))
    assert relabel.n_skipped == 2 and relabel.n_labels == pytest.approx(0.5 * first.n_labels, abs=2)
    more = simulate_dataset(tmp_path, config.replace(n_micrographs=3))
    assert (more.n_simulated, more.n_skipped) == (1, 2)
    fewer = simulate_dataset(tmp_path, config.replace(n_micrographs=1))
    assert not (tmp_path / "micrographs" / "mic_0002.mrc").exists()
    assert fewer.n_micrographs == 1
    changed = simulate_dataset(tmp_path, config.replace(n_micrographs=1, dose_e_per_A2=80.0))
    assert changed.n_simulated == 1
    assert mrc.stat().st_mtime_ns != stamp


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


def test_unknown_or_unfitting_structure_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="unknown structure"):
        simulate_dataset(tmp_path, small(structures=("no_such_thing",)))
    with pytest.raises(CryopickError, match="does not fit"):
        load_structures(small(structures=("6qt9",), apix=1.0))
    bad = tmp_path / "broken.pdb"
    bad.write_text("this is not a structure\n")
    with pytest.raises(CryopickError):
        load_structures(small(structures=(str(bad),)))


# --- command line ---------------------------------------------------------------------


def test_command_line_simulates_and_reports_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryopick.cli import main

    with pytest.raises(SystemExit) as ok:
        main(["simulate", str(tmp_path / "sim"), "--n", "2", "--size", "320x256", "--apix", "4", "--seed", "0",
              "--structure", "globular", "--junk", "none", "--label-fraction", "0.5"])
    assert not ok.value.code
    with mrcfile.open(tmp_path / "sim" / "micrographs" / "mic_0001.mrc") as mrc:
        assert mrc.data.shape == (256, 320)
    capsys.readouterr()
    for args, needle in ((["--n", "-1"], "number of micrographs"), (["--size", "0"], "size"),
                         (["--snr", "-1"], "SNR"), (["--wrong-label-fraction", "2"], "wrong label fraction"),
                         (["--structure", "nope"], "unknown structure"), (["--crowding", "packed"], "crowding")):
        with pytest.raises(SystemExit) as exit_:
            main(["simulate", str(tmp_path / "bad"), *args])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and needle in err and "fix:" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_4096_micrograph_takes_well_under_30_seconds() -> None:
    config = SimulationConfig(n_micrographs=1, shape=(4096, 4096), apix=1.0, structures=("globular",))
    structures = load_structures(config)
    start = time.perf_counter()
    result = simulate_micrograph(config, 0, structures)
    assert time.perf_counter() - start < 30.0
    assert result.image.shape == (4096, 4096)
