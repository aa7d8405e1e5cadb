"""Tests for cryopick.simulate.structures: builtins, atomic models, maps, coarse graining."""

from __future__ import annotations

import warnings
from pathlib import Path

import gemmi
import mrcfile
import numpy as np
import pytest
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.simulate import _build_builtins as build
from cryopick.simulate.structures import (
    PROTEIN_Z_PER_A3,
    Structure,
    builtin_names,
    builtin_path,
    coarse_grain,
    load_structure,
    read_points_npz,
)

# Plausible diameters (2 x max radius, Å) for each builtin.
EXPECTED_DIAMETER_A = {"globular": (100, 130), "ring7": (125, 160), "dumbbell": (180, 220),
                       "small": (50, 80), "6qt9": (280, 330), "8zpm": (110, 140), "ring5": (90, 120),
                       "rod": (190, 240)}


def _ball(n: int = 2000, radius: float = 30.0, seed: int = 0) -> Structure:
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 3))
    pts *= (radius * rng.random(n) ** (1 / 3) / np.linalg.norm(pts, axis=1))[:, None]
    return Structure("ball", pts + 5.0, rng.uniform(1, 10, n))


# ----------------------------------------------------------------------------- Structure


def test_structure_is_centred_read_only_float32():
    s = _ball()
    assert s.coords_A.dtype == np.float32 and s.weights.dtype == np.float32
    com = (s.weights[:, None] * s.coords_A).sum(axis=0) / s.weights.sum()
    assert np.abs(com).max() < 1e-3
    assert 55 < s.diameter_A <= 2 * 30 + 2 * np.abs(com).max() + 12  # shift of 5 Å removed
    with pytest.raises(ValueError):
        s.coords_A[0, 0] = 1.0
    assert "n_points=2000" in repr(s)


@pytest.mark.parametrize("coords, weights", [
    (np.zeros((3, 2)), np.ones(3)), (np.zeros((3, 3)), np.ones(2)), (np.zeros((0, 3)), np.ones(0)),
    (np.zeros((2, 3)), np.array([1.0, -2.0])), (np.full((2, 3), np.nan), np.ones(2)),
])  # fmt: skip
def test_structure_rejects_bad_arrays(coords, weights):
    with pytest.raises(ValueError):
        Structure("bad", coords, weights)


# ----------------------------------------------------------------------------- builtins


@pytest.mark.parametrize("name", builtin_names())
def test_builtins_load_with_plausible_diameters(name):
    s = load_structure(name)
    lo, hi = EXPECTED_DIAMETER_A[name]
    assert lo < s.diameter_A < hi, s
    assert s.n_points > 300 and s.name == name
    # summed Z per residue-equivalent volume: between 20 kDa and 1 MDa of protein
    kda = s.total_weight / 53 * 0.110
    assert 20 < kda < 1000
    assert load_structure(name) is s  # cached


def test_builtins_are_small_and_complete():
    files = {p.stem: p.stat().st_size for p in builtin_path("small").parent.glob("*.npz")}
    assert set(files) == set(builtin_names())
    assert sum(files.values()) < 1.5e6
    assert (builtin_path("small").parent / "PROVENANCE.txt").is_file()


@pytest.mark.parametrize("name", list(build.PROCEDURAL))
def test_procedural_builtins_regenerate_identically(name):
    new_xyz, new_w = read_points_npz(build.npz_bytes(*build.build_procedural(name), "x"))
    old_xyz, old_w = read_points_npz(builtin_path(name))
    np.testing.assert_array_equal(new_w, old_w)
    np.testing.assert_allclose(new_xyz, old_xyz, atol=0.02)


def test_build_script_writes_builtins_and_provenance(tmp_path, capsys):
    build.main(["--pdb-dir", str(tmp_path / "absent"), "--out", str(tmp_path)])
    assert "skipping 6qt9" in capsys.readouterr().out
    assert sorted(p.stem for p in tmp_path.glob("*.npz")) == sorted(build.PROCEDURAL)
    assert "CC0" in (tmp_path / "PROVENANCE.txt").read_text()
    xyz, _ = read_points_npz(tmp_path / "ring7.npz")
    np.testing.assert_allclose(xyz, read_points_npz(builtin_path("ring7"))[0], atol=0.02)


def test_procedural_builtins_have_protein_like_local_density():
    """Backbone points have ~20-30 neighbours within 10 Å, as C-alphas in real proteins."""
    from scipy.spatial import cKDTree

    xyz, w = build.build_procedural("globular")
    backbone = xyz[w == build.BACKBONE_Z]
    counts = [len(n) for n in cKDTree(backbone).query_ball_point(backbone, 10.0)]
    assert 15 < np.median(counts) < 32


# ----------------------------------------------------------------------------- atomic models


def _pdb_line(serial, name, resname, resseq, xyz, element):
    record = "HETATM" if resname == "HOH" else "ATOM  "
    return (f"{record}{serial:5d} {name:<4s} {resname:3s} A{resseq:4d}    "
            f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{1.0:6.2f}{20.0:6.2f}          {element:>2s}")


def test_pdb_round_trip_weights_are_atomic_numbers(tmp_path):
    atoms = [("N", "GLY", 1, (-20.0, 0, 0), "N"), ("CA", "GLY", 1, (20.0, 0, 0), "C"),
             ("O", "GLY", 1, (0, 10.0, 0), "O"), ("H", "GLY", 1, (0, 0, 40.0), "H"),
             ("O", "HOH", 2, (0, 0, -50.0), "O")]  # fmt: skip
    path = tmp_path / "tiny.pdb"
    path.write_text("\n".join(_pdb_line(i + 1, *a) for i, a in enumerate(atoms)) + "\nEND\n")
    s = load_structure(path)
    assert s.name == "tiny"
    assert sorted(s.weights.tolist()) == [6.0, 7.0, 8.0]  # hydrogen and water left out
    assert s.total_weight == 21.0
    # centre of mass (7*-20 + 6*20) / 21 on x, 8*10/21 on y; the carbon is farthest
    com = np.array([-20 / 21, 80 / 21, 0])
    expected = 2 * np.linalg.norm(np.array([20.0, 0, 0]) - com)
    assert s.diameter_A == pytest.approx(expected, rel=1e-5)
    # the same model as mmCIF gives the same points
    st = gemmi.read_structure(str(path))
    st.setup_entities()
    st.make_mmcif_document().write_file(str(tmp_path / "tiny.cif"))
    c = load_structure(tmp_path / "tiny.cif")
    np.testing.assert_allclose(np.sort(c.weights), np.sort(s.weights))
    assert c.diameter_A == pytest.approx(s.diameter_A, rel=1e-4)


def test_real_models(shared_data):
    folder = shared_data / "structures"
    big = load_structure(folder / "6qt9.cif")
    small = load_structure(folder / "cryojax_8zpm.cif")
    assert 290 < big.diameter_A < 320 and big.n_points == 42370  # 82,012 atoms less hydrogens
    assert 115 < small.diameter_A < 135
    # summed Z per residue ~ 50-56 without hydrogens (5,520 and 401 residues)
    assert 48 < big.total_weight / 5520 < 58
    assert 48 < small.total_weight / 401 < 60
    # the shipped coarse-grained copies keep the mass and shape of their sources
    for built, real in ((load_structure("6qt9"), big), (load_structure("8zpm"), small)):
        assert built.total_weight == pytest.approx(real.total_weight, rel=1e-4)
        assert built.diameter_A == pytest.approx(real.diameter_A, abs=6.0)


# ----------------------------------------------------------------------------- maps


def _write_map(path: Path, data: np.ndarray, voxel: float) -> None:
    with warnings.catch_warnings():  # mrcfile warns when it writes the NaN test map's header
        warnings.filterwarnings("ignore", "Data array contains NaN values", RuntimeWarning)
        with mrcfile.new(path, overwrite=True) as mrc:
            mrc.set_data(data.astype(np.float32))
            mrc.voxel_size = voxel


def _sphere_map(n=64, voxel=2.0, radius_A=30.0, noise=0.02, seed=0):
    zz, yy, xx = np.indices((n, n, n)) - n / 2
    ball = ((np.sqrt(xx**2 + yy**2 + zz**2) * voxel) <= radius_A).astype(np.float64)
    ball = ndimage.gaussian_filter(ball, 1.0) + np.random.default_rng(seed).normal(0, noise, ball.shape)
    return ball * 1e-3 + 0.5  # arbitrary units and offset


def test_map_round_trip(tmp_path):
    path = tmp_path / "ball.mrc"
    _write_map(path, _sphere_map(), 2.0)
    s = load_structure(path)
    assert s.name == "ball"
    assert 58 < s.diameter_A < 72  # 60 Å ball, blurred edge, no noise specks kept
    volume = 4 / 3 * np.pi * 30**3
    assert s.total_weight == pytest.approx(PROTEIN_Z_PER_A3 * volume, rel=0.3)


def test_map_mass_matches_source_model():
    """A map made from a builtin at 8 Å converts back to about the builtin's mass and size."""
    from cryopick.simulate.structures import map_to_points

    s = load_structure("small")
    voxel, n = 2.0, 56
    idx = np.round(s.coords_A / voxel + n / 2).astype(int)
    vol = np.zeros((n, n, n))
    np.add.at(vol, (idx[:, 2], idx[:, 1], idx[:, 0]), s.weights)
    vol = ndimage.gaussian_filter(vol, 8.0 / (np.pi * np.sqrt(2)) / voxel)
    coords, weights = map_to_points(vol * 123.0, voxel)
    back = Structure("back", coords, weights)
    assert back.total_weight == pytest.approx(s.total_weight, rel=0.35)
    assert back.diameter_A == pytest.approx(s.diameter_A, abs=14.0)


def test_map_without_voxel_size_needs_apix(tmp_path):
    path = tmp_path / "novox.map"
    _write_map(path, _sphere_map(), 0.0)
    with pytest.raises(CryopickError, match="voxel size") as err:
        load_structure(path)
    assert err.value.path == path and "voxel size" in err.value.fix
    s = load_structure(path, apix_map=2.0)
    assert 58 < s.diameter_A < 72
    assert load_structure(path, apix_map=1.0).diameter_A == pytest.approx(s.diameter_A / 2, rel=1e-3)


def test_real_maps(shared_data):
    folder = shared_data / "structures"
    ribosome = load_structure(folder / "aspire_clean70SRibosome_vol_65p.mrc", apix_map=5.0)
    assert 230 < ribosome.diameter_A < 300  # 70S ribosome is ~250 Å; noise specks dropped
    shell = load_structure(folder / "cryojax_3j9g_potential_ps4_4.mrc")  # 4.4 Å in the header
    assert 250 < shell.diameter_A < 300


def test_truncated_map(tmp_path):
    path = tmp_path / "cut.mrc"
    _write_map(path, _sphere_map(n=32), 2.0)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CryopickError, match="cannot read density map") as err:
        load_structure(path)
    assert err.value.path == path


@pytest.mark.parametrize("data, match", [
    (np.zeros((8, 8, 8)), "above the threshold"), (np.zeros((8, 8)), "not a 3D"),
    (np.full((8, 8, 8), np.nan), "NaN"),
])  # fmt: skip
def test_bad_maps(tmp_path, data, match):
    path = tmp_path / "bad.mrc"
    _write_map(path, data, 2.0)
    with pytest.raises(CryopickError, match=match) as err:
        load_structure(path)
    assert err.value.path == path


# ----------------------------------------------------------------------------- errors


def test_unknown_builtin_lists_builtins():
    with pytest.raises(CryopickError) as err:
        load_structure("no_such_protein")
    assert all(name in err.value.fix for name in builtin_names())


@pytest.mark.parametrize("name, content, match", [
    ("missing.pdb", None, "not found"), ("garbage.cif", "this is not mmCIF\n", "cannot read"),
    ("garbage.mrc", "not a map at all", "cannot read"), ("notes.txt", "hello", "unknown structure file"),
    ("empty.pdb", "END\n", "no non-hydrogen atoms|no models"),
])  # fmt: skip
def test_bad_files_raise_cryopick_error_naming_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(CryopickError, match=match) as err:
        load_structure(path)
    assert err.value.path == path


# ----------------------------------------------------------------------------- coarse graining


def test_coarse_grain_keeps_mass_and_centre():
    s = _ball(5000)
    c = coarse_grain(s, 800)
    assert c.n_points <= 800
    assert c.total_weight == pytest.approx(s.total_weight, rel=1e-5)
    com = (c.weights[:, None] * c.coords_A.astype(np.float64)).sum(axis=0) / c.total_weight
    assert np.abs(com).max() < 1e-3
    assert c.diameter_A == pytest.approx(s.diameter_A, abs=10.0)
    assert coarse_grain(s, 5000) is s
    with pytest.raises(ValueError):
        coarse_grain(s, 0)
