"""cryopick extract: particle stacks and a RELION 3.1 STAR file from a non-square micrograph."""

from __future__ import annotations

import io
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.errors import CryopickError
from cryopick.extract.boxes import ExtractConfig
from cryopick.extract.particles import extract_particles
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import write_mrc
from cryopick.io.picks import empty_picks, make_picks
from cryopick.preprocess import fourier_crop
from tests.cli.test_cli import run_cli

APIX = 1.5
SHAPE = (300, 420)  # rows (y), columns (x): not square
BOX = 64
DISC_RADIUS = 9
# Dark discs centred on these whole pixels (x = column, y = row); the last is 15 px from the left edge.
DISCS = [(100, 80), (300, 200), (210, 150), (15, 150)]
INSIDE = DISCS[:3]


def _micrograph(seed: int = 0) -> np.ndarray:
    """Noise on a gentle slope (so the background is not already mean 0), with dark discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    data = 5.0 + 0.002 * xx + 0.2 * rng.normal(size=SHAPE)
    for x, y in DISCS:
        data[(xx - x) ** 2 + (yy - y) ** 2 <= DISC_RADIUS**2] -= 1.0
    return data.astype(np.float32)


@pytest.fixture()
def mic(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "mic_0000.mrc"
    data = _micrograph()
    write_mrc(path, data, APIX)
    return path, data


def _picks(xy: list[tuple[float, float]], name: str = "mic_0000") -> pd.DataFrame:
    return make_picks(name, [p[0] for p in xy], [p[1] for p in xy], score=np.linspace(0.9, 0.5, len(xy)))


def _stack(path: Path) -> tuple[np.ndarray, float]:
    with mrcfile.open(path) as mrc:
        return np.array(mrc.data), float(mrc.voxel_size.x)


def _by_hand(data: np.ndarray, x: float, y: float, box: int = BOX) -> np.ndarray:
    """The box around (x, y), cut with plain slicing and normalised on the background ring."""
    cx, cy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
    return data[cy - box // 2 : cy + box // 2, cx - box // 2 : cx + box // 2].astype(np.float64)


def _normalised(image: np.ndarray, ramp: bool = True) -> np.ndarray:
    """RELION's normalisation written out: plane fitted to the background ring subtracted, then mean 0, std 1."""
    n = image.shape[0]
    yy, xx = np.mgrid[:n, :n] - n // 2
    background = np.hypot(xx, yy) > 0.75 * n / 2
    if ramp:
        design = np.c_[xx[background], yy[background], np.ones(background.sum())]
        coefficients = np.linalg.lstsq(design, image[background], rcond=None)[0]
        image = image - (coefficients[0] * xx + coefficients[1] * yy + coefficients[2])
    return (image - image[background].mean()) / image[background].std()


def _background(image: np.ndarray) -> np.ndarray:
    n = image.shape[0]
    yy, xx = np.mgrid[:n, :n] - n // 2
    return image[np.hypot(xx, yy) > 0.75 * n / 2]


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(x, y) centre of the bright blob: the pixels above half the maximum."""
    weight = np.where(image > image.max() / 2, image, 0.0)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    return float((weight * xx).sum() / weight.sum()), float((weight * yy).sum() / weight.sum())


def test_stack_and_star_are_what_relion_reads(mic, tmp_path):
    path, _ = mic
    picks = _picks(INSIDE)
    result = extract_particles([path], picks, tmp_path / "out" / "particles.star", ExtractConfig(BOX))
    assert result.n_extracted == 3 and result.n_skipped_edge == 0
    assert result.stacks == (tmp_path / "out" / "Particles" / "mic_0000.mrcs",)
    stack, voxel = _stack(result.stacks[0])
    assert stack.shape == (3, BOX, BOX) and stack.dtype == np.float32
    assert voxel == pytest.approx(APIX)
    with mrcfile.open(result.stacks[0]) as mrc:
        assert mrc.is_image_stack()
        assert float(mrc.header.dmean) == pytest.approx(stack.mean(), abs=1e-4)
        assert float(mrc.header.rms) == pytest.approx(stack.std(), rel=1e-4)
    assert mrcfile.validate(result.stacks[0], print_file=io.StringIO())

    blocks = starfile.read(result.star_path, always_dict=True)
    assert set(blocks) == {"optics", "particles"}
    optics, particles = blocks["optics"], blocks["particles"]
    assert optics.iloc[0].to_dict() == {
        "rlnOpticsGroupName": "opticsGroup1", "rlnOpticsGroup": 1, "rlnMicrographOriginalPixelSize": APIX,
        "rlnVoltage": 300.0, "rlnSphericalAberration": 2.7, "rlnAmplitudeContrast": 0.1,
        "rlnImagePixelSize": APIX, "rlnImageSize": BOX, "rlnImageDimensionality": 2,
    }
    assert list(particles.columns) == ["rlnCoordinateX", "rlnCoordinateY", "rlnImageName", "rlnMicrographName",
                                       "rlnOpticsGroup", "rlnAutopickFigureOfMerit"]
    assert list(particles["rlnImageName"]) == [f"00000{i}@Particles/mic_0000.mrcs" for i in (1, 2, 3)]
    assert list(particles["rlnMicrographName"]) == [str(path)] * 3
    # RELION's coordinates are cryopick's (column, row from 0): no offset, no flip
    np.testing.assert_allclose(particles[["rlnCoordinateX", "rlnCoordinateY"]], picks[["x", "y"]])
    np.testing.assert_allclose(particles["rlnAutopickFigureOfMerit"], picks["score"], rtol=1e-6)
    back = read_coords(result.star_path)  # and cryopick reads its own particles back
    assert list(back["micrograph"]) == ["mic_0000"] * 3
    np.testing.assert_allclose(back[["x", "y"]], picks[["x", "y"]])


def test_each_image_is_the_box_cut_by_hand_normalised_and_inverted(mic, tmp_path):
    path, data = mic
    xy = [(100.4, 80.6), (299.5, 199.5), (210.0, 150.0)]  # rounded to (100, 81), (300, 200), (210, 150)
    result = extract_particles([path], _picks(xy), tmp_path / "p.star", ExtractConfig(BOX))
    stack, _ = _stack(result.stacks[0])
    for image, (x, y) in zip(stack, xy, strict=True):
        np.testing.assert_allclose(image, -_normalised(_by_hand(data, x, y)), atol=2e-5)
        ring = _background(image)
        assert abs(ring.mean()) < 1e-5 and ring.std() == pytest.approx(1.0, abs=1e-5)


def test_the_disc_is_centred_and_white(mic, tmp_path):
    path, _ = mic
    for rescale in (None, 32):
        result = extract_particles([path], _picks(INSIDE), tmp_path / f"{rescale}.star", ExtractConfig(BOX, rescale))
        stack, _ = _stack(result.stacks[0])
        n = stack.shape[1]
        for image in stack:
            assert image[n // 2, n // 2] > 3  # the dark disc came out white
            cx, cy = _centre_of_mass(image)
            assert abs(cx - n // 2) < 0.3 and abs(cy - n // 2) < 0.3


def test_rescale_changes_size_and_pixel_size(mic, tmp_path):
    path, data = mic
    result = extract_particles([path], _picks(INSIDE), tmp_path / "p.star", ExtractConfig(BOX, rescale_px=40))
    stack, voxel = _stack(result.stacks[0])
    assert stack.shape == (3, 40, 40)
    assert voxel == pytest.approx(APIX * BOX / 40)
    optics = starfile.read(result.star_path)["optics"].iloc[0]
    assert optics["rlnImageSize"] == 40
    assert optics["rlnImagePixelSize"] == pytest.approx(APIX * BOX / 40)
    assert optics["rlnMicrographOriginalPixelSize"] == pytest.approx(APIX)
    for image, (x, y) in zip(stack, INSIDE, strict=True):  # Fourier crop, then normalise on the 40 px ring
        expected = -_normalised(fourier_crop(_by_hand(data, x, y), BOX / 40).astype(np.float64))
        np.testing.assert_allclose(image, expected, atol=1e-4)
        ring = _background(image)
        assert abs(ring.mean()) < 1e-5 and ring.std() == pytest.approx(1.0, abs=1e-5)


def test_edge_skip_drops_and_pad_mirrors(mic, tmp_path):
    path, data = mic
    picks = _picks(DISCS)  # the last disc is 15 px from the left edge: its 64 px box leaves the image
    skipped = extract_particles([path], picks, tmp_path / "skip" / "p.star", ExtractConfig(BOX))
    assert (skipped.n_extracted, skipped.n_skipped_edge, skipped.n_padded) == (3, 1, 0)
    assert _stack(skipped.stacks[0])[0].shape[0] == 3
    kept = starfile.read(skipped.star_path)["particles"]
    np.testing.assert_allclose(kept[["rlnCoordinateX", "rlnCoordinateY"]], picks[["x", "y"]].iloc[:3])

    padded = extract_particles([path], picks, tmp_path / "pad" / "p.star", ExtractConfig(BOX, edge="pad"))
    assert (padded.n_extracted, padded.n_skipped_edge, padded.n_padded) == (4, 0, 1)
    stack, _ = _stack(padded.stacks[0])
    assert stack.shape[0] == 4
    mirrored = np.pad(data, BOX // 2, mode="symmetric")  # ... b a | a b ...
    x, y = DISCS[3]
    by_hand = mirrored[y : y + BOX, x : x + BOX].astype(np.float64)
    np.testing.assert_allclose(stack[3], -_normalised(by_hand), atol=2e-5)
    np.testing.assert_allclose(stack[:3], _stack(skipped.stacks[0])[0])  # boxes inside are the same


def test_invert_flips_the_sign_and_normalise_can_be_off(mic, tmp_path):
    path, data = mic
    picks = _picks(INSIDE)
    inverted = _stack(extract_particles([path], picks, tmp_path / "a.star", ExtractConfig(BOX)).stacks[0])[0]
    plain = _stack(extract_particles([path], picks, tmp_path / "b.star", ExtractConfig(BOX, invert=False)).stacks[0])[0]
    np.testing.assert_array_equal(plain, -inverted)
    assert plain[:, BOX // 2, BOX // 2].max() < -3  # particles stay dark without --invert
    raw = extract_particles([path], picks, tmp_path / "c.star", ExtractConfig(BOX, invert=False, normalise=False))
    np.testing.assert_array_equal(_stack(raw.stacks[0])[0][0], _by_hand(data, *INSIDE[0]).astype(np.float32))


def test_the_ramp_is_subtracted_by_default_and_no_ramp_keeps_it(tmp_path):
    """A steep ice gradient across a box: RELION's default flattens it, --no-ramp leaves a tilt."""
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
    data = (5.0 + 0.05 * xx + 0.02 * yy + 0.2 * np.random.default_rng(3).normal(size=SHAPE)).astype(np.float32)
    path = tmp_path / "mic_0000.mrc"
    write_mrc(path, data, APIX)
    picks = _picks(INSIDE)
    flat = _stack(extract_particles([path], picks, tmp_path / "a.star", ExtractConfig(BOX)).stacks[0])[0]
    tilted = _stack(extract_particles([path], picks, tmp_path / "b.star", ExtractConfig(BOX, ramp=False)).stacks[0])[0]
    for image, (x, y) in zip(flat, INSIDE, strict=True):
        box = _by_hand(data, x, y)
        np.testing.assert_allclose(image, -_normalised(box), atol=2e-5)
        assert abs(image[:, : BOX // 4].mean() - image[:, -BOX // 4 :].mean()) < 0.3  # no tilt left
    for image, (x, y) in zip(tilted, INSIDE, strict=True):
        np.testing.assert_allclose(image, -_normalised(_by_hand(data, x, y), ramp=False), atol=2e-5)
        assert image[:, : BOX // 4].mean() - image[:, -BOX // 4 :].mean() > 1.0  # inverted: the left is brighter


def test_the_same_picks_give_the_same_bytes(mic, tmp_path):
    path, _ = mic
    results = [extract_particles([path], _picks(DISCS), tmp_path / run / "p.star", ExtractConfig(BOX, 32, edge="pad"))
               for run in ("a", "b")]
    for first, second in zip(results[0].stacks + (results[0].star_path,), results[1].stacks + (results[1].star_path,),
                             strict=True):
        assert first.read_bytes() == second.read_bytes()


def test_micrographs_are_read_one_at_a_time_and_grouped_by_pixel_size(tmp_path, monkeypatch):
    import cryopick.extract.particles as extract

    paths = []
    for i, apix in enumerate((APIX, APIX, 2.0, APIX)):
        paths.append(tmp_path / f"m{i}.mrc")
        write_mrc(paths[-1], _micrograph(i), apix)
    picks = pd.concat([_picks(INSIDE, "m0"), _picks(INSIDE[:2], "m2"), _picks(INSIDE[:1], "m3"),
                       _picks(INSIDE, "elsewhere")], ignore_index=True)  # m1 has none
    reads, real_read = [], extract.read_micrograph

    def read_and_check(path, apix=None, **kwargs):
        done = sorted(p.name for p in (tmp_path / "Particles").glob("*.mrcs")) if reads else []
        assert done == [f"{Path(r).stem}.mrcs" for r in reads], "the previous stack is written first"
        reads.append(path)
        return real_read(path, apix, **kwargs)

    monkeypatch.setattr(extract, "read_micrograph", read_and_check)
    result = extract.extract_particles(paths, picks, tmp_path / "particles.star", ExtractConfig(BOX))
    assert [Path(p).name for p in reads] == ["m0.mrc", "m2.mrc", "m3.mrc"]  # m1 has no picks: not read
    assert (result.n_extracted, result.n_left_out, result.n_micrographs_left_out) == (6, 3, 1)
    optics = starfile.read(result.star_path)["optics"]
    assert list(optics["rlnOpticsGroup"]) == [1, 2]
    np.testing.assert_allclose(optics["rlnMicrographOriginalPixelSize"], [APIX, 2.0])
    particles = starfile.read(result.star_path)["particles"]
    assert list(particles["rlnOpticsGroup"]) == [1, 1, 1, 2, 2, 1]
    assert particles["rlnImageName"].iloc[3] == "000001@Particles/m2.mrcs"
    assert _stack(tmp_path / "Particles" / "m2.mrcs")[1] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "settings",
    [
        {"box_size_px": 0}, {"box_size_px": -64}, {"box_size_px": 63}, {"box_size_px": 64.0},
        {"box_size_px": 64, "rescale_px": 128}, {"box_size_px": 64, "rescale_px": 33},
        {"box_size_px": 64, "edge": "wrap"}, {"box_size_px": 64, "background_radius_px": 32},
        {"box_size_px": 64, "voltage_kv": 0}, {"box_size_px": 64, "amplitude_contrast": 1.5},
    ],
)
def test_impossible_settings_are_one_line_errors(settings):
    with pytest.raises(CryopickError) as error:
        ExtractConfig(**settings)
    assert error.value.fix and "\n" not in error.value.message


def test_bad_picks_are_one_line_errors(mic, tmp_path):
    path, _ = mic
    config = ExtractConfig(BOX)
    cases = {
        "match a micrograph": _picks(INSIDE, "other"),
        "no picks": empty_picks(),
        "outside their micrograph": _picks([(100, 80), (425, 80)]),  # x beyond the 420 columns
        "of the micrograph edge": _picks([(10, 10), (410, 295)]),  # every box leaves the image
    }
    for needle, picks in cases.items():
        with pytest.raises(CryopickError, match=needle) as error:
            extract_particles([path], picks, tmp_path / "p.star", config, picks_source="picks.star")
        assert error.value.fix and str(error.value.path) == "picks.star"
    with pytest.raises(CryopickError, match="no micrographs"):
        extract_particles([], _picks(INSIDE), tmp_path / "p.star", config)
    assert not (tmp_path / "p.star").exists()


def test_cli_writes_particles_and_says_what_it_did(mic, tmp_path, capsys):
    path, _ = mic
    _picks(DISCS).to_csv(tmp_path / "picks.csv", index=False)
    out = tmp_path / "particles"
    code, _, err = run_cli(["extract", path, "--picks", tmp_path / "picks.csv", "--box-size", BOX, "--rescale", 32,
                      "-o", out], capsys)
    assert code == 0, err
    assert "3 particles extracted (1 skipped at the edge)" in err and str(out / "particles.star") in err
    stack, voxel = _stack(out / "Particles" / "mic_0000.mrcs")
    assert stack.shape == (3, 32, 32) and voxel == pytest.approx(APIX * 2)
    assert len(starfile.read(out / "particles.star")["particles"]) == 3

    code, _, err = run_cli(["extract", path, "--picks", tmp_path / "picks.csv", "--box-size", BOX, "--edge", "pad",
                      "--no-invert", "--voltage", 200, "-o", out], capsys)
    assert code == 0, err
    assert "4 particles extracted (1 padded at the edge)" in err
    optics = starfile.read(out / "particles.star")["optics"].iloc[0]
    assert optics["rlnVoltage"] == 200 and optics["rlnImageSize"] == BOX

    code, _, err = run_cli(["extract", path, "--picks", tmp_path / "picks.csv", "--box-size", 63, "-o", out], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "even" in lines[0] and "fix:" in lines[0]


def test_cli_paths_in_the_star_file_are_relative_to_its_folder(mic, tmp_path, capsys, monkeypatch):
    _picks(INSIDE).to_csv(tmp_path / "picks.csv", index=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["extract", "mic_0000.mrc", "--picks", "picks.csv", "--box-size", BOX, "-o", "job/out"],
                           capsys)
    assert code == 0, err
    particles = starfile.read(tmp_path / "job" / "out" / "particles.star")["particles"]
    assert set(particles["rlnMicrographName"]) == {"../../mic_0000.mrc"}
    stack = tmp_path / "job" / "out" / particles["rlnImageName"].iloc[0].split("@")[1]
    assert _stack(stack)[0].shape == (3, BOX, BOX)


def test_cli_help_has_an_example(capsys):
    from cryopick.cli import main

    with pytest.raises(SystemExit) as done:
        main(["extract", "--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "cryopick extract" in out and "--box-size" in out and "--edge" in out


def test_an_interrupted_extraction_goes_on_where_it_stopped(tmp_path: Path, monkeypatch) -> None:
    """Stacks finished from the same inputs are kept; only the missing one is read again; the same STAR."""
    from cryopick.extract import particles as extract

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"m{i}.mrc")
        write_mrc(paths[-1], _micrograph(i), APIX)
    picks = pd.concat([_picks(INSIDE, f"m{i}") for i in range(3)], ignore_index=True)
    star = tmp_path / "particles.star"
    extract.extract_particles(paths, picks, star, ExtractConfig(BOX))
    first = star.read_bytes()
    stacks = {p.name: p.read_bytes() for p in (tmp_path / "Particles").glob("*.mrcs")}
    (tmp_path / "Particles" / ".m1.mrcs.json").unlink()  # as if killed while m1 was written
    reads, real_read = [], extract.read_micrograph
    monkeypatch.setattr(extract, "read_micrograph", lambda path, apix=None, **kw: reads.append(Path(path).name)
                        or real_read(path, apix, **kw))
    extract.extract_particles(paths, picks, star, ExtractConfig(BOX))
    assert reads == ["m1.mrc"]
    assert star.read_bytes() == first
    assert {p.name: p.read_bytes() for p in (tmp_path / "Particles").glob("*.mrcs")} == stacks
    reads.clear()
    extract.extract_particles(paths, picks, star, ExtractConfig(BOX, rescale_px=32))  # other settings: all again
    assert reads == ["m0.mrc", "m1.mrc", "m2.mrc"]


def _ctf_star(tmp_path: Path, micrographs: list[str], voltage: float = 200.0) -> Path:
    """A RELION 3.1 micrographs_ctf.star for these micrograph paths, defocus 10000 + 1000 i Å."""
    rows = "\n".join(f"{m} 1 ctf/{i}.ctf:mrc {10000 + 1000 * i:.1f} {9500 + 1000 * i:.1f} {15.0 * i:.1f} 0.1 4.5"
                     for i, m in enumerate(micrographs))
    text = (f"data_optics\nloop_\n_rlnOpticsGroupName #1\n_rlnOpticsGroup #2\n_rlnVoltage #3\n"
            f"_rlnSphericalAberration #4\n_rlnAmplitudeContrast #5\nopticsGroup1 1 {voltage} 1.4 0.07\n\n"
            "data_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\n_rlnCtfImage #3\n"
            "_rlnDefocusU #4\n_rlnDefocusV #5\n_rlnDefocusAngle #6\n_rlnCtfFigureOfMerit #7\n"
            f"_rlnCtfMaxResolution #8\n{rows}\n")
    path = tmp_path / "micrographs_ctf.star"
    path.write_text(text)
    return path


def test_each_particle_carries_its_micrographs_ctf(tmp_path: Path) -> None:
    from cryopick.io.ctf_star import read_ctf_star

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"mic_000{i}.mrc")
        write_mrc(paths[-1], _micrograph(seed=i), APIX)
    picks = pd.concat([_picks(INSIDE, "mic_0000"), _picks(INSIDE[:2], "mic_0001")], ignore_index=True)
    ctf = read_ctf_star(_ctf_star(tmp_path, ["Movies/mic_0001.mrc", "Movies/mic_0000.mrc"]))  # another order
    result = extract_particles(paths, picks, tmp_path / "out" / "particles.star", ExtractConfig(BOX), ctf=ctf)
    particles = starfile.read(result.star_path)["particles"]
    assert len(particles) == 5
    by_mic = particles.groupby(particles["rlnMicrographName"].map(lambda p: Path(p).stem))
    first, second = by_mic.get_group("mic_0000"), by_mic.get_group("mic_0001")
    assert set(first["rlnDefocusU"]) == {11000.0} and set(first["rlnDefocusV"]) == {10500.0}
    assert set(first["rlnDefocusAngle"]) == {15.0}
    assert set(second["rlnDefocusU"]) == {10000.0} and set(second["rlnCtfMaxResolution"]) == {4.5}


def test_a_micrograph_without_ctf_stops_before_anything_is_written(mic, tmp_path: Path) -> None:
    from cryopick.io.ctf_star import read_ctf_star

    path, _ = mic
    ctf = read_ctf_star(_ctf_star(tmp_path, ["Movies/other.mrc"]))
    out = tmp_path / "out"
    with pytest.raises(CryopickError, match="1 of the 1 micrographs with picks have no CTF there: mic_0000"):
        extract_particles([path], _picks(INSIDE), out / "particles.star", ExtractConfig(BOX), ctf=ctf)
    assert not out.exists() or not any(out.rglob("*.mrcs"))


def test_cli_takes_the_ctf_and_optics_from_a_micrographs_ctf_star(mic, tmp_path, capsys):
    path, _ = mic
    _picks(INSIDE).to_csv(tmp_path / "picks.csv", index=False)
    star = _ctf_star(tmp_path, [path.name])
    out = tmp_path / "particles"
    code, _, err = run_cli(["extract", star, "--picks", tmp_path / "picks.csv", "--box-size", BOX, "-o", out], capsys)
    assert code == 0, err
    assert f"CTF of each micrograph from {star}" in err
    written = starfile.read(out / "particles.star")
    assert set(written["particles"]["rlnDefocusU"]) == {10000.0}
    optics = written["optics"].iloc[0]
    assert (optics["rlnVoltage"], optics["rlnSphericalAberration"], optics["rlnAmplitudeContrast"]) == (200, 1.4, 0.07)

    code, _, err = run_cli(["extract", path, "--ctf", star, "--voltage", 300, "--picks", tmp_path / "picks.csv",
                      "--box-size", BOX, "-o", out], capsys)
    assert code == 0, err
    written = starfile.read(out / "particles.star")
    assert written["optics"].iloc[0]["rlnVoltage"] == 300  # given beats the file
    assert written["optics"].iloc[0]["rlnSphericalAberration"] == 1.4
    assert set(written["particles"]["rlnDefocusV"]) == {9500.0}

    code, _, err = run_cli(["extract", path, "--picks", tmp_path / "picks.csv", "--box-size", BOX, "-o", out], capsys)
    assert code == 0, err
    written = starfile.read(out / "particles.star")
    assert "rlnDefocusU" not in written["particles"] and written["optics"].iloc[0]["rlnVoltage"] == 300

    code, _, err = run_cli(["extract", path, "--ctf", tmp_path / "picks.csv", "--picks", tmp_path / "picks.csv",
                      "--box-size", BOX, "-o", out], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "picks.csv" in lines[0] and "CtfFind" in lines[0]
