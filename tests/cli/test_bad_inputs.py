"""The fixed list of bad inputs: each gives one line on stderr, exit status 2, and loses nothing.

Every case runs the real command line in-process (``cryopick.cli.main``) and checks that
standard error is exactly one line ``cryopick: error: <path>: <problem>; fix: <fix>``
naming the offending file, that the exit status is 2, and that an output that existed
before the failing run is byte for byte unchanged (no half-written file, no temporary
left beside it). ``pick`` runs with ``--method log`` (no network needed). ``pick
--scores-json`` is checked before picking; ``evaluate --out`` is written after the table
is printed: there the error is the one error line, last after those results.

==========================================  =================================================
item                                        where it is tested
==========================================  =================================================
corrupt MRC header                          ``test_corrupt_mrc_header`` (mode, sizes, extended
                                            header, overwritten bytes); random bytes named
                                            .mrc: ``test_cli.py::test_corrupt_mrc_is_one_line``;
                                            TIFF: ``test_corrupt_tiff_header``
truncated MRC data                          ``test_truncated_mrc_data`` (alone and after a good
                                            micrograph); ``test_cli.py`` (default method)
NaN and inf pixels, then --fill-nonfinite   ``test_nonfinite_pixels_then_fill_nonfinite``;
                                            the library: ``test_micrographs.py``
zero-size image                             ``test_zero_size_image`` (0xN and Nx0 MRC, 0-byte
                                            .mrc and .png)
missing pixel size                          ``test_missing_pixel_size`` (MRC voxel size 0, PNG
                                            without --apix; both then work with --apix)
coordinates outside the image               ``test_coordinates_outside_the_image`` (evaluate -m
                                            for picks and truth, convert -m, train --coords)
names that match no micrograph              ``test_names_matching_no_micrograph`` (train,
                                            evaluate -m, convert -m, pick --truth)
empty label file given to train             ``test_empty_label_file_given_to_train`` (0 bytes,
                                            STAR 3.0 and 3.1 with no rows, empty CSV/BOX)
a folder with no micrographs                ``test_folder_with_no_micrographs`` (pick, train)
unwritable output folder                    ``test_output_under_a_file`` (parent is a regular
                                            file: fails even for root; pick -o, pick
                                            --scores-json, convert -o, evaluate --out, box
                                            folders) and ``test_output_in_a_read_only_folder``
                                            (chmod 0o500; skipped as root, where it does
                                            not stop writes) and
                                            ``test_output_folder_that_refuses_writes``
                                            (the same error injected, also for root)
a second run writing to the same folder     ``runs/test_state.py``: while the first runs
                                            (``..._refused_while_the_first_runs``: the
                                            lock), over an unfinished run with other
                                            settings (``test_unfinished_run_...``), after
                                            a finished one (starts afresh, with a note)
a run killed with SIGKILL                   ``runs/test_batch.py::test_killed_run_resumes...``
==========================================  =================================================
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.cli.test_cli import run_cli

SHAPE = (60, 80)  # (ny, nx): non-square
APIX = 2.0
DIAMETER = 40  # Å: 20 px at 2 Å/px (below 40 Å a pick run warns that no particle is so small)
SENTINEL = b"complete output of an earlier run\n"


# ----------------------------------------------------------------------------- helpers


def assert_one_line(code: int, err: str, offending: Path | str, *needles: str) -> str:
    """Exit 2 and exactly one stderr line: prefix, the offending path, the problem and 'fix:'."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}: {err}"
    assert len(lines) == 1, f"expected one error line, got: {err!r}"
    line = lines[0]
    assert line.startswith(f"cryopick: error: {offending}"), line
    assert "; fix: " in line, line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert "Traceback" not in err
    return line


def write_mic(path: Path, data: np.ndarray | None = None, apix: float = APIX) -> Path:
    data = np.random.default_rng(zlib.crc32(path.name.encode())).normal(size=SHAPE) if data is None else data
    with mrcfile.new(path, overwrite=True) as mrc, np.errstate(invalid="ignore"):  # header stats of inf pixels
        mrc.set_data(np.asarray(data, dtype=np.float32))
        mrc.voxel_size = apix
    return path


def earlier_output(path: Path) -> Path:
    """An output file from an earlier run, which a failing run must leave as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SENTINEL)
    return path


def assert_untouched(path: Path) -> None:
    assert path.read_bytes() == SENTINEL, "a failing run changed an earlier output"
    leftovers = [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]
    assert leftovers == [], f"temporary files left beside the output: {leftovers}"


def pick_args(mics: list[Path] | Path, output: Path, *extra: object) -> list[object]:
    mics = mics if isinstance(mics, list) else [mics]
    return ["pick", *mics, "--method", "log", "--diameter", DIAMETER, "-o", output, *extra]


@pytest.fixture()
def mic_dir(tmp_path: Path) -> Path:
    """Two good non-square micrographs, a.mrc and b.mrc (60x80 px, 2 Å/px)."""
    folder = tmp_path / "mics"
    folder.mkdir()
    for name in ("a", "b"):
        write_mic(folder / f"{name}.mrc")
    return folder


def labels_csv(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    path.write_text("micrograph,x,y\n" + "".join(f"{m},{x},{y}\n" for m, x, y in rows))
    return path


GOOD_LABELS = [("a", 20.0, 20.0), ("a", 50.0, 30.0), ("b", 40.0, 25.0)]


# ----------------------------------------------------------------------------- micrographs


def _set_i4(raw: bytearray, offset: int, value: int) -> None:
    raw[offset : offset + 4] = np.array([value], "<i4").tobytes()


@pytest.mark.parametrize(
    ("corruption", "needle"),
    [
        ("mode 99", "unsupported MRC mode 99"),
        ("mode -1", "MRC"),
        ("negative nx", "MRC"),
        ("huge ny", "truncated"),
        ("extended header past the end", "truncated"),
        ("first 16 bytes 0xff", "MRC"),
        ("header bytes zeroed", "no pixels"),
    ],
)
def test_corrupt_mrc_header(corruption: str, needle: str, tmp_path: Path, mic_dir: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = bytearray((mic_dir / "a.mrc").read_bytes())
    if corruption == "mode 99":
        _set_i4(raw, 12, 99)
    elif corruption == "mode -1":
        _set_i4(raw, 12, -1)
    elif corruption == "negative nx":
        _set_i4(raw, 0, -80)
    elif corruption == "huge ny":
        _set_i4(raw, 4, 2**30)
    elif corruption == "extended header past the end":
        _set_i4(raw, 92, 10**6)  # nsymbt
    elif corruption == "first 16 bytes 0xff":
        raw[:16] = b"\xff" * 16
    else:
        raw[:224] = bytes(224)
    bad = tmp_path / "bad_header.mrc"
    bad.write_bytes(bytes(raw))
    output = earlier_output(tmp_path / "out" / "picks.star")
    code, _, err = run_cli(pick_args([mic_dir / "a.mrc", bad], output), capsys)
    assert_one_line(code, err, bad, needle)
    assert_untouched(output)


def _tiff_tag_entry(raw: bytes, code: int) -> int:
    """Offset of a tag's 12-byte entry in the first IFD of a little-endian TIFF."""
    ifd = int.from_bytes(raw[4:8], "little")
    for i in range(int.from_bytes(raw[ifd : ifd + 2], "little")):
        entry = ifd + 2 + 12 * i
        if int.from_bytes(raw[entry : entry + 2], "little") == code:
            return entry
    raise AssertionError(f"no tag {code}")


@pytest.mark.parametrize(
    ("corruption", "needle"),
    [
        ("strip tags of an unknown type", "truncated or corrupt"),  # tifffile logs 2 errors of its own
        ("image length 2**31 - 1", "truncated or corrupt"),  # used to allocate what the header claimed
        ("image width 0", "no pixels"),  # used to give an empty micrograph
    ],
)
def test_corrupt_tiff_header(corruption: str, needle: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.tif"
    tifffile.imwrite(good, (np.random.default_rng(4).random(SHAPE) * 255).astype(np.uint8))
    raw = bytearray(good.read_bytes())
    if corruption.startswith("strip tags"):
        for code in (273, 279):  # StripOffsets, StripByteCounts
            entry = _tiff_tag_entry(raw, code)
            raw[entry + 2 : entry + 4] = (99).to_bytes(2, "little")
    else:
        entry = _tiff_tag_entry(raw, 257 if "length" in corruption else 256)
        value = 2**31 - 1 if "length" in corruption else 0
        kind = int.from_bytes(raw[entry + 2 : entry + 4], "little")  # SHORT (3) or LONG (4)
        raw[entry + 8 : entry + 12] = value.to_bytes(2 if kind == 3 else 4, "little").ljust(4, b"\0")
        if kind == 3 and value > 2**16 - 1:
            raw[entry + 2 : entry + 4] = (4).to_bytes(2, "little")
            raw[entry + 8 : entry + 12] = value.to_bytes(4, "little")
    bad = tmp_path / "bad_header.tif"
    bad.write_bytes(bytes(raw))
    output = earlier_output(tmp_path / "out" / "picks.star")
    code, _, err = run_cli(pick_args(bad, output, "--apix", APIX), capsys)
    assert_one_line(code, err, bad, needle)
    assert_untouched(output)


def test_truncated_mrc_data(tmp_path: Path, mic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = mic_dir / "a.mrc"
    cut = tmp_path / "cut.mrc"
    cut.write_bytes(good.read_bytes()[: -SHAPE[1] * 4 * 3])  # three rows of pixels short
    output = earlier_output(tmp_path / "out" / "picks.star")
    code, _, err = run_cli(pick_args(cut, output), capsys)
    assert_one_line(code, err, cut, "truncated", f"found {cut.stat().st_size}")
    assert_untouched(output)
    # after a good micrograph: the good one's picks must not half-replace the earlier output
    code, _, err = run_cli(pick_args([good, cut], tmp_path / "out" / "two.star"), capsys)
    assert_one_line(code, err, cut, "truncated")
    assert not (tmp_path / "out" / "two.star").exists()


# mrcfile warns while computing the header statistics of the bad file the test writes
@pytest.mark.filterwarnings("ignore:Data array contains NaN values:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:Data array contains infinite values:RuntimeWarning")
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nonfinite_pixels_then_fill_nonfinite(bad_value: float, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = np.random.default_rng(2).normal(size=SHAPE)
    data[5, 7] = data[40, 70] = bad_value
    mic = write_mic(tmp_path / "nonfinite.mrc", data)
    output = earlier_output(tmp_path / "out" / "picks.star")
    code, _, err = run_cli(pick_args(mic, output), capsys)
    assert_one_line(code, err, mic, "2 of 4800 pixels are NaN or infinite", "--fill-nonfinite")
    assert_untouched(output)
    # the fix the line names works: the same command again, with --fill-nonfinite
    code, _, err = run_cli(pick_args(mic, output, "--fill-nonfinite"), capsys)
    assert code == 0, err
    assert "rlnCoordinateX" in output.read_text()


@pytest.mark.parametrize("kind", ["0xN mrc", "Nx0 mrc", "0-byte mrc", "0-byte png"])
def test_zero_size_image(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if kind.endswith("png"):
        bad = tmp_path / "empty.png"
        bad.write_bytes(b"")
        needle = "empty (0 bytes)"
    elif kind == "0-byte mrc":
        bad = tmp_path / "empty.mrc"
        bad.write_bytes(b"")
        needle = "empty (0 bytes)"
    else:
        bad = write_mic(tmp_path / "nopixels.mrc", np.zeros((0, 80) if kind == "0xN mrc" else (60, 0)))
        needle = "no pixels"
    output = earlier_output(tmp_path / "out" / "picks.star")
    code, _, err = run_cli(pick_args(bad, output, "--apix", APIX), capsys)
    assert_one_line(code, err, bad, needle)
    assert_untouched(output)


def test_missing_pixel_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_apix = write_mic(tmp_path / "no_apix.mrc", apix=0.0)
    png = tmp_path / "gray.png"
    Image.fromarray((np.random.default_rng(3).random(SHAPE) * 255).astype(np.uint8)).save(png)
    for bad, needle in ((no_apix, "no pixel size in the header"), (png, "JPG/PNG files carry no pixel size")):
        output = earlier_output(tmp_path / f"out_{bad.stem}" / "picks.star")
        code, _, err = run_cli(pick_args(bad, output), capsys)
        assert_one_line(code, err, bad, needle, "--apix")
        assert_untouched(output)
        fixed = output.with_name("fixed.star")
        code, _, err = run_cli(pick_args(bad, fixed, "--apix", APIX), capsys)
        assert code == 0, err
        assert fixed.stat().st_size > 0


# ----------------------------------------------------------------------------- labels and coordinates


def test_coordinates_outside_the_image(tmp_path: Path, mic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = labels_csv(tmp_path / "good.csv", GOOD_LABELS)
    outside = labels_csv(tmp_path / "outside.csv", [*GOOD_LABELS, ("b", 79.0, 95.0)])  # y past the 60 rows
    report = tmp_path / "report"
    for picks, truth in ((outside, good), (good, outside)):
        code, _, err = run_cli(["evaluate", "--picks", picks, "--truth", truth, "-m", mic_dir, "--radius-px", 5,
                                "--out", report], capsys)
        assert_one_line(code, err, outside, "1 coordinate(s) lie outside", "80x60 px")
    assert not report.exists()
    converted = earlier_output(tmp_path / "converted.star")
    code, _, err = run_cli(["convert", outside, "-o", converted, "-m", mic_dir], capsys)
    assert_one_line(code, err, outside, "outside")
    assert_untouched(converted)
    model = earlier_output(tmp_path / "model.cryopick")
    code, _, err = run_cli(["train", mic_dir, "--coords", outside, "--diameter", DIAMETER, "-o", model], capsys)
    assert_one_line(code, err, outside, "outside", "--flip-y")
    assert_untouched(model)


def test_names_matching_no_micrograph(tmp_path: Path, mic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stray = labels_csv(tmp_path / "stray.csv", [("mic_0001", 20.0, 20.0), ("mic_0002", 30.0, 30.0)])
    good = labels_csv(tmp_path / "good.csv", GOOD_LABELS)
    model = earlier_output(tmp_path / "model.cryopick")
    code, _, err = run_cli(["train", mic_dir, "--coords", stray, "--diameter", DIAMETER, "-o", model], capsys)
    assert_one_line(code, err, stray, "mic_0001", "micrographs are a, b", "file stem")
    assert_untouched(model)
    for picks, truth in ((stray, good), (good, stray)):
        code, _, err = run_cli(["evaluate", "--picks", picks, "--truth", truth, "-m", mic_dir, "--radius-px", 5],
                               capsys)
        assert_one_line(code, err, stray, "mic_0001")
    converted = earlier_output(tmp_path / "converted.star")
    code, _, err = run_cli(["convert", stray, "-o", converted, "-m", mic_dir], capsys)
    assert_one_line(code, err, stray, "mic_0001")
    assert_untouched(converted)
    picks = earlier_output(tmp_path / "picks.star")
    code, _, err = run_cli(pick_args(mic_dir, picks, "--truth", stray), capsys)
    assert_one_line(code, err, stray, "mic_0001")
    assert_untouched(picks)


STAR_NO_ROWS_30 = "\ndata_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n"
STAR_NO_ROWS_31 = (
    "\n# version 30001\n\ndata_optics\n\nloop_\n_rlnOpticsGroup #1\n_rlnOpticsGroupName #2\n1 opticsGroup1\n\n"
    "\n# version 30001\n\ndata_particles\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n"
    "_rlnMicrographName #3\n_rlnOpticsGroup #4\n"
)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("zero_bytes.star", ""),
        ("no_rows_relion30.star", STAR_NO_ROWS_30),
        ("no_rows_relion31.star", STAR_NO_ROWS_31),
        ("comments_only.star", "# nothing picked\n\n"),
        ("header_only.csv", "micrograph,x,y\n"),
        ("a.box", ""),
    ],
)
def test_empty_label_file_given_to_train(name: str, text: str, tmp_path: Path, mic_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / name
    labels.write_text(text)
    model = earlier_output(tmp_path / "model.cryopick")
    code, _, err = run_cli(["train", mic_dir, "--coords", labels, "--diameter", DIAMETER, "-o", model], capsys)
    assert_one_line(code, err, labels, "has no coordinates")
    assert_untouched(model)


def test_folder_with_no_micrographs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("not a micrograph")
    (others / "picks.star").write_text(STAR_NO_ROWS_30)
    (others / ".hidden.mrc").write_bytes(b"hidden files are not micrographs")
    labels = labels_csv(tmp_path / "labels.csv", GOOD_LABELS)
    for folder in (empty, others):
        picks = earlier_output(tmp_path / "picks.star")
        code, _, err = run_cli(pick_args(folder, picks), capsys)
        assert_one_line(code, err, folder, "folder holds no micrographs")
        assert_untouched(picks)
        model = earlier_output(tmp_path / "model.cryopick")
        code, _, err = run_cli(["train", folder, "--coords", labels, "--diameter", DIAMETER, "-o", model], capsys)
        assert_one_line(code, err, folder, "folder holds no micrographs")
        assert_untouched(model)


# ----------------------------------------------------------------------------- outputs


def test_output_under_a_file(tmp_path: Path, mic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A regular file where the output's folder should be: no folder can be made, even by root."""
    blocker = tmp_path / "results"
    blocker.write_bytes(SENTINEL)  # e.g. `-o results/picks.star` where results is a file
    mic = mic_dir / "a.mrc"

    code, _, err = run_cli(pick_args(mic, blocker / "sub" / "picks.star"), capsys)
    assert_one_line(code, err, blocker / "sub" / "picks.star")

    # --scores-json is checked before any picking: one line, and no work done for nothing
    picks = tmp_path / "picks.star"
    code, _, err = run_cli(pick_args(mic, picks, "--scores-json", blocker / "scores.json"), capsys)
    assert_one_line(code, err, blocker / "scores.json", f"{blocker} is a file, not a folder")
    assert not picks.exists()

    labels = labels_csv(tmp_path / "labels.csv", GOOD_LABELS)
    code, _, err = run_cli(["convert", labels, "-o", blocker / "converted.star"], capsys)
    assert_one_line(code, err, blocker / "converted.star")
    code, _, err = run_cli(["convert", labels, "-o", blocker / "boxes", "--to", "box", "--box-size", 10], capsys)
    assert_one_line(code, err, blocker / "boxes")
    # evaluate prints its table (on stderr) before it writes --out: the error is the last line
    code, _, err = run_cli(["evaluate", "--picks", labels, "--truth", labels, "--radius-px", 5, "--out",
                            blocker / "report"], capsys)
    assert "Traceback" not in err and err.count("cryopick: error: ") == 1
    assert_one_line(code, err.splitlines()[-1], blocker / "report")
    assert blocker.read_bytes() == SENTINEL


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into a read-only folder anyway; test_output_under_a_file covers root")
def test_output_in_a_read_only_folder(tmp_path: Path, mic_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    output = earlier_output(locked / "picks.star")
    labels = labels_csv(tmp_path / "labels.csv", GOOD_LABELS)
    locked.chmod(0o500)
    try:
        code, _, err = run_cli(["convert", labels, "-o", output], capsys)
        assert_one_line(code, err, output, "Permission denied")
        code, _, err = run_cli(pick_args(mic_dir / "a.mrc", output), capsys)
        assert_one_line(code, err, locked)  # the run folder beside the output, or the output itself
        assert_untouched(output)
    finally:
        locked.chmod(0o700)


def test_output_folder_that_refuses_writes(tmp_path: Path, mic_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """What a read-only folder does to a normal user, for root too: creating any file there fails."""
    import cryopick.io.atomic

    locked = tmp_path / "locked"
    output = earlier_output(locked / "picks.star")

    def refuse(*args: object, dir: str | None = None, **kwargs: object) -> tuple[int, str]:  # noqa: A002
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(cryopick.io.atomic.tempfile, "mkstemp", refuse)
    labels = labels_csv(tmp_path / "labels.csv", GOOD_LABELS)
    code, _, err = run_cli(["convert", labels, "-o", output], capsys)
    assert_one_line(code, err, output, "Permission denied")
    code, _, err = run_cli(pick_args(mic_dir / "a.mrc", output), capsys)
    assert_one_line(code, err, output, "Permission denied")  # the output, or its run folder output.parts
    assert_untouched(output)
