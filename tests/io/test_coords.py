"""Round trips of every coordinate format, flip-y, and the errors of read_coords/write_coords."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import FORMATS, CoordOptions, detect_format, mirror_y, read_coords, write_coords
from cryopick.io.formats import MODULES, SUFFIX_FORMATS
from cryopick.io.picks import make_picks

NY, NX = 4092, 5760  # a K3 micrograph: non-square, so swapped axes cannot pass
SHAPES = {"mic_a": (NY, NX), "mic_b": (NY, NX), "FoilHole_12_Data_3": (NY, NX)}

# (what it carries) per format: coordinate tolerance, score kept, diameter tolerance (None: not kept)
CARRIES = {
    "star": (1e-3, True, 1e-6),
    "box": (1e-3, False, 0.5),
    "cbox": (1e-3, True, 1e-3),
    "tsv": (0.5, True, None),
    "cs": (1e-3, True, 1e-3),
    "csv": (1e-9, True, 1e-12),
    "star_relion30": (1e-3, True, None),
}
PER_MICROGRAPH = {"box", "cbox"}


@pytest.fixture()
def picks() -> pd.DataFrame:
    """Picks near all four edges and corners of three 5760x4092 micrographs."""
    x = [0.3, 5759.2, 2880.6, 1234.5, 3.7, 5755.1, 2000.25, 100.0, 4000.75]
    y = [2000.4, 1000.6, 0.4, 4091.4, 4088.1, 2.2, 2046.0, 3000.5, 12.125]
    mics = ["mic_a"] * 4 + ["mic_b"] * 3 + ["FoilHole_12_Data_3"] * 2
    score = [0.91, 0.12, -1.5, 3.25, 0.5, np.nan, 0.75, 2.0, 0.001]
    diameter = [150.0, 151.0, 149.0, 150.0, 160.0, 140.0, 150.0, 155.0, 150.0]
    return make_picks(mics, x, y, score, diameter)


def _target(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / ("out" if fmt in PER_MICROGRAPH else f"out.{fmt}")


def _same(read: pd.DataFrame, expected: pd.DataFrame, fmt: str) -> None:
    """Compare as sets of picks: per-micrograph formats may regroup rows by micrograph."""
    tol, has_score, dia_tol = CARRIES[fmt]
    key = ["micrograph", "x"]
    a = read.sort_values(key).reset_index(drop=True)
    b = expected.sort_values(key).reset_index(drop=True)
    assert list(a["micrograph"]) == list(b["micrograph"])
    np.testing.assert_allclose(a["x"], b["x"], atol=tol, rtol=0)
    np.testing.assert_allclose(a["y"], b["y"], atol=tol, rtol=0)
    if has_score:
        np.testing.assert_allclose(a["score"], b["score"], rtol=1e-6, atol=1e-9, equal_nan=True)
    else:
        assert a["score"].isna().all()
    if dia_tol is not None:
        np.testing.assert_allclose(a["diameter_px"], b["diameter_px"], atol=dia_tol, rtol=0)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_picks(fmt: str, picks: pd.DataFrame, tmp_path: Path) -> None:
    out = _target(tmp_path, fmt)
    written = write_coords(picks, out, fmt, CoordOptions(shapes=SHAPES, apix=1.06))
    assert written and all(p.is_file() for p in written)
    if fmt in PER_MICROGRAPH:
        assert sorted(p.name for p in written) == sorted(f"{m}.{fmt}" for m in SHAPES)
    back = read_coords(out, fmt if fmt in PER_MICROGRAPH else None)
    _same(back, picks, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_from_suffix_and_file_list(fmt: str, picks: pd.DataFrame, tmp_path: Path) -> None:
    """Without naming the format: written files are found by suffix, one by one or as a folder."""
    written = write_coords(picks, _target(tmp_path, fmt), fmt, CoordOptions(shapes=SHAPES))
    assert [detect_format(p) for p in written] == [fmt] * len(written)
    _same(read_coords(written), picks, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_flip_y_maps_rows_from_the_bottom(fmt: str, picks: pd.DataFrame, tmp_path: Path) -> None:
    out = _target(tmp_path, fmt)
    write_coords(picks, out, fmt, CoordOptions(shapes=SHAPES, flip_y=True))
    flipped = read_coords(out, fmt)
    expected = picks.assign(y=NY - 1 - picks["y"])
    _same(flipped, expected, fmt)
    twice = read_coords(out, fmt, CoordOptions(shapes=SHAPES, flip_y=True))
    _same(twice, picks, fmt)


def test_mirror_y_is_its_own_inverse_and_uses_each_height(picks: pd.DataFrame) -> None:
    shapes = {"mic_a": (100, 5760), "mic_b": (4092, 5760), "FoilHole_12_Data_3": (3000, 10)}
    once = mirror_y(picks, shapes)
    ny = picks["micrograph"].map(lambda m: shapes[m][0]).to_numpy()
    np.testing.assert_allclose(once["y"], ny - 1 - picks["y"].to_numpy())
    np.testing.assert_allclose(once["x"], picks["x"])
    np.testing.assert_allclose(mirror_y(once, shapes)["y"], picks["y"])


def test_relion30_per_micrograph_star_files(picks: pd.DataFrame, tmp_path: Path) -> None:
    options = CoordOptions(star_style="relion30", star_suffix="manualpick")
    written = write_coords(picks, tmp_path / "coords", "star", options)
    assert sorted(p.name for p in written) == sorted(f"{m}_manualpick.star" for m in SHAPES)
    text = written[0].read_text()
    assert "data_\n" in text and "_rlnCoordinateX" in text and "rlnMicrographName" not in text
    back = read_coords(tmp_path / "coords")
    _same(back, picks, "star_relion30")
    assert back["diameter_px"].isna().all()


def test_extra_columns_survive_csv_and_star(tmp_path: Path) -> None:
    truth = make_picks(["m1", "m1", "m2"], [10, 20, 30], [5, 6, 7], kind=["particle", "ice", "particle"])
    for name in ("t.csv", "t.star"):
        back = read_coords(write_coords(truth, tmp_path / name)[0])
        assert list(back["kind"]) == ["particle", "ice", "particle"]
        assert back["score"].isna().all()


def test_folder_of_box_files_reads_all_micrographs(picks: pd.DataFrame, tmp_path: Path) -> None:
    write_coords(picks, tmp_path / "boxes", "box", CoordOptions(box_size_px=200))
    (tmp_path / "boxes" / "notes.md").write_text("not coordinates")
    back = read_coords(tmp_path / "boxes")
    assert sorted(set(back["micrograph"])) == sorted(SHAPES)
    assert (back["diameter_px"] == 200).all()


def test_writes_leave_no_temporary_files(picks: pd.DataFrame, tmp_path: Path) -> None:
    for fmt in FORMATS:
        write_coords(picks, _target(tmp_path / fmt, fmt), fmt, CoordOptions(shapes=SHAPES))
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]
    assert leftovers == []


def test_empty_picks_write_and_read_with_allow_empty(tmp_path: Path) -> None:
    empty = make_picks([], [], [])
    for fmt in ("star", "tsv", "cs", "csv"):
        path = write_coords(empty, tmp_path / f"e.{fmt}", options=CoordOptions(shapes={}))[0]
        assert read_coords(path, options=CoordOptions(allow_empty=True)).empty
        with pytest.raises(CryopickError, match="has no coordinates; fix:"):
            read_coords(path)
    assert write_coords(empty, tmp_path / "boxes", "box", CoordOptions(box_size_px=100)) == []


def test_detect_format_by_suffix() -> None:
    cases = {"a.star": "star", "b.BOX": "box", "c.cbox": "cbox", "d.tsv": "tsv", "e.txt": "tsv", "f.cs": "cs"}
    for name, fmt in cases.items():
        assert detect_format(name) == fmt
    assert detect_format(Path("dir/g.csv")) == "csv"


# ---------------------------------------------------------------- errors, one line each


def _error(call, *args, **kwargs) -> CryopickError:
    with pytest.raises(CryopickError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "; fix: " in message
    return info.value


def test_unknown_suffix_and_format(tmp_path: Path) -> None:
    odd = tmp_path / "picks.xyz"
    odd.write_text("1 2\n")
    assert "unknown coordinate file suffix '.xyz'" in str(_error(read_coords, odd))
    assert "unknown coordinate format 'pdb'" in str(_error(read_coords, odd, "pdb"))
    assert "cannot tell the output format" in str(_error(write_coords, make_picks("m", [1], [1]), tmp_path / "out"))
    assert "is a folder" in str(_error(detect_format, tmp_path))


@pytest.mark.parametrize("name", ["empty.star", "empty.box", "empty.cbox", "empty.tsv", "empty.csv"])
def test_empty_label_file_is_an_error(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text("")
    error = _error(read_coords, path)
    assert str(path) in str(error) and "has no coordinates" in str(error)


def test_header_only_files_have_no_coordinates(tmp_path: Path) -> None:
    star = tmp_path / "mic_autopick.star"
    star.write_text("data_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("image_name\tx_coord\ty_coord\tscore\n")
    for path in (star, tsv):
        assert "has no coordinates" in str(_error(read_coords, path))


def test_missing_paths_and_folders(tmp_path: Path) -> None:
    assert "does not exist" in str(_error(read_coords, tmp_path / "nope.star"))
    (tmp_path / "empty").mkdir()
    assert "no coordinate files" in str(_error(read_coords, tmp_path / "empty"))
    assert "no coordinate files were given" in str(_error(read_coords, []))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "a.box").write_text("1 2 10 10\n")
    (mixed / "b.cbox").write_text("1 2 10 10 0.5\n")
    assert "mixes coordinate formats (box, cbox)" in str(_error(read_coords, mixed))
    assert len(read_coords(mixed, "box")) == 1


def test_flip_y_needs_shapes(picks: pd.DataFrame, tmp_path: Path) -> None:
    path = write_coords(picks, tmp_path / "p.csv")[0]
    assert "needs the micrograph sizes" in str(_error(read_coords, path, options=CoordOptions(flip_y=True)))
    partial = CoordOptions(flip_y=True, shapes={"mic_a": (NY, NX)})
    assert "needs the size of micrograph" in str(_error(read_coords, path, options=partial))
    assert "needs the micrograph sizes" in str(
        _error(write_coords, picks, tmp_path / "q.csv", options=CoordOptions(flip_y=True))
    )


def test_cs_without_shapes_cannot_be_written(picks: pd.DataFrame, tmp_path: Path) -> None:
    error = _error(write_coords, picks, tmp_path / "p.cs")
    assert "size of micrograph" in str(error) and "fractions" in str(error)
    assert not (tmp_path / "p.cs").exists()


@pytest.mark.parametrize("fmt", ["box", "cbox"])
def test_box_formats_need_a_box_size(fmt: str, tmp_path: Path) -> None:
    no_size = make_picks("m", [10, 20], [10, 20], diameter_px=[100, np.nan])
    error = _error(write_coords, no_size, tmp_path / "out", fmt)
    assert "1 pick(s) have no diameter_px" in str(error) and "--box-size" in str(error)
    written = write_coords(no_size, tmp_path / "out", fmt, CoordOptions(box_size_px=64))
    assert len(written) == 1
    assert "positive" in str(_error(write_coords, no_size, tmp_path / "o2", fmt, CoordOptions(box_size_px=-3)))


def test_non_finite_coordinates_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("micrograph,x,y\nm,1,2\nm,inf,3\nm,4,\n")
    assert "2 coordinate(s) are missing or not numbers" in str(_error(read_coords, path))
    bad = make_picks("m", [1.0, np.nan], [1.0, 2.0])
    assert "not numbers" in str(_error(write_coords, bad, tmp_path / "q.csv"))


def test_output_kind_mismatch(picks: pd.DataFrame, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert "writes one file per micrograph" in str(
        _error(write_coords, picks, tmp_path / "afile", "box", CoordOptions(box_size_px=10))
    )
    (tmp_path / "adir.star").mkdir()
    assert "is a folder, but this format writes one file" in str(_error(write_coords, picks, tmp_path / "adir.star"))
    assert "unknown STAR style" in str(
        _error(write_coords, picks, tmp_path / "x.star", options=CoordOptions(star_style="relion2"))
    )


def test_the_format_list_is_the_registry() -> None:
    """One list: the formats are the registry's, in its order, and every suffix names one of them."""
    assert FORMATS == tuple(MODULES) == ("star", "box", "cbox", "tsv", "cs", "csv")
    assert set(SUFFIX_FORMATS.values()) == set(FORMATS)
    with pytest.raises(CryopickError, match=r"use \.star \.box \.cbox \.tsv/\.txt \.cs or \.csv"):
        detect_format("picks.xyz")
