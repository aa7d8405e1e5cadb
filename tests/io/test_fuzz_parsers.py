"""Fuzzing the parsers: damaged files give a CryopickError or a valid result, never a crash.

* Every coordinate reader (STAR, EMAN2 BOX, crYOLO CBOX, Topaz TSV, cryoSPARC CS, CSV), on
  arbitrary bytes and on mutated valid files, through :func:`read_coords` and through the
  format module itself (so a parser error is not merely wrapped by read_coords' safety
  net): a valid Picks table (standard columns, string names, finite x/y) or a CryopickError.
* :func:`read_micrograph` and :func:`read_micrograph_info` on a small MRC with flipped,
  overwritten and truncated header bytes, on mutated TIFF/PNG/JPG files, and on arbitrary
  bytes named .mrc/.tif/.png/.jpg: a valid micrograph or a CryopickError.
* Round trips: random finite picks on a non-square micrograph, written and read back in
  every format (with and without --flip-y), keep their micrographs and coordinates within
  the format's precision (tolerances as in test_coords.py: Topaz whole pixels, BOX/STAR/
  CBOX decimals, cryoSPARC float32 fractions).

Each example writes into its own ``tempfile.TemporaryDirectory`` (function-scoped pytest
fixtures do not mix with hypothesis), and micrograph examples run under an address-space
limit, so a header that claims a huge image fails fast instead of filling the machine.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cryopick.errors import CryopickError
from cryopick.io.coords import FORMATS, CoordOptions, read_coords, write_coords
from cryopick.io.formats import MODULES, PER_MICROGRAPH
from cryopick.io.micrographs import read_micrograph, read_micrograph_info
from cryopick.io.names import PICKER_TAGS
from cryopick.io.picks import PICK_COLUMNS, make_picks, validate_picks

EXAMPLES = int(os.environ.get("CRYOPICK_FUZZ_EXAMPLES", "60"))
"""Examples per fuzz test; e.g. ``CRYOPICK_FUZZ_EXAMPLES=2000`` for a longer hunt than CI's."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROUND_TRIP = settings(max_examples=max(EXAMPLES * 2 // 3, 1), deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])

SUFFIX = {"star": ".star", "box": ".box", "cbox": ".cbox", "tsv": ".tsv", "cs": ".cs", "csv": ".csv"}
TOKENS = [b"nan", b"inf", b"-inf", b"1e999", b"-999", b"<NA>", b"NA", b"", b" ", b"\t", b"\n", b"\r\n", b",",
          b"\"", b"'", b"#", b"data_", b"loop_", b"_rlnCoordinateX", b"_CoordinateX", b"\x00", b"\xff",
          "\u00e9".encode(), b"x_coord", b"micrograph", b"\x93NUMPY", b"{'descr'"]


# ----------------------------------------------------------------------------- mutations


def mutation(size_hint: int = 2000) -> st.SearchStrategy[tuple[str, int, bytes]]:
    """One edit: flip a byte, overwrite, insert, delete or truncate (positions wrap to the file)."""
    position = st.integers(0, size_hint)
    return st.one_of(
        st.tuples(st.just("flip"), position, st.binary(min_size=1, max_size=1)),
        st.tuples(st.just("overwrite"), position, st.binary(min_size=1, max_size=8) | st.sampled_from(TOKENS)),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16) | st.sampled_from(TOKENS)),
        st.tuples(st.just("delete"), position, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("truncate"), position, st.just(b"")),
    )


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, position, payload in edits:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            at = min(at, len(out) - 1)
            out[at] ^= payload[0] or 0xFF
        elif kind == "overwrite":
            out[at : at + len(payload)] = payload
        elif kind == "insert":
            out[at:at] = payload
        elif kind == "delete":
            del out[at : at + len(payload)]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cryopick-fuzz-") as folder:
        yield Path(folder)


# ----------------------------------------------------------------------------- coordinates

SHAPES = {"mic_a": (300, 420), "FoilHole_1_Data_2": (300, 420)}


@functools.lru_cache(maxsize=None)
def valid_coordinate_file(fmt: str) -> bytes:
    """The bytes of one small valid file of each format (one micrograph's file for BOX/CBOX)."""
    picks = make_picks(["mic_a", "mic_a", "FoilHole_1_Data_2"], [10.5, 200.25, 419.0], [5.0, 150.5, 299.0],
                       [0.5, np.nan, 2.0], [20.0, 20.0, 30.0], kind=["particle", "ice", "particle"])
    with scratch() as folder:
        target = folder / ("out" if fmt in PER_MICROGRAPH else f"out{SUFFIX[fmt]}")
        written = write_coords(picks, target, fmt, CoordOptions(shapes=SHAPES, apix=1.06))
        return written[0].read_bytes()


def assert_valid_picks(table: pd.DataFrame) -> None:
    assert list(table.columns[: len(PICK_COLUMNS)]) == list(PICK_COLUMNS)
    assert all(isinstance(name, str) for name in table["micrograph"])
    for column in ("x", "y", "score", "diameter_px"):
        assert table[column].dtype == np.float64
    assert np.isfinite(table["x"].to_numpy()).all() and np.isfinite(table["y"].to_numpy()).all()


def check_coordinate_readers(raw: bytes, fmt: str) -> None:
    """read_coords and the format's own reader: a valid table or a CryopickError, nothing else."""
    with scratch() as folder:
        path = folder / f"mic_a{SUFFIX[fmt]}"
        path.write_bytes(raw)
        with warnings.catch_warnings():  # a parser's warning is not a crash
            warnings.simplefilter("ignore")
            try:
                table = read_coords(path, fmt, CoordOptions(allow_empty=True))
            except CryopickError as error:
                assert "\n" not in error.message
            else:
                assert_valid_picks(table)
            try:
                table = validate_picks(MODULES[fmt].read(path, CoordOptions()), source=path)
            except CryopickError:
                pass
            else:
                assert_valid_picks(table)
            try:  # by suffix, with a box size for BOX files without one
                table = read_coords(path, None, CoordOptions(allow_empty=True, box_size_px=32.0))
            except CryopickError:
                pass
            else:
                assert_valid_picks(table)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(raw=st.binary(max_size=1500))
def test_coordinate_readers_on_arbitrary_bytes(fmt: str, raw: bytes) -> None:
    check_coordinate_readers(raw, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(edits=st.lists(mutation(), min_size=1, max_size=6))
def test_coordinate_readers_on_mutated_files(fmt: str, edits: list[tuple[str, int, bytes]]) -> None:
    check_coordinate_readers(mutate(valid_coordinate_file(fmt), edits), fmt)


@pytest.mark.parametrize("fmt", ["tsv", "csv", "box", "cbox"])
@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.-+eE \t\n,#<>NAna_xy")), max_size=400))
def test_text_readers_on_number_like_text(fmt: str, text: str) -> None:
    """Text made of the characters numbers and tables are made of, which random bytes rarely hit."""
    header = {"tsv": "image_name\tx_coord\ty_coord\tscore\n", "csv": "micrograph,x,y,score\n"}.get(fmt, "")
    check_coordinate_readers((header + text).encode(), fmt)


def test_a_star_file_corrected_after_a_failed_parse_reads_anew() -> None:
    """Found while fuzzing: starfile kept a failed file's lines in linecache, so the fixed file failed too."""
    with scratch() as folder:
        path = folder / "picks.star"
        bad = "data_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnMicrographName #3\n1 2 #a.mrc\n"
        path.write_text(bad)
        with pytest.raises(CryopickError):
            read_coords(path)
        path.write_text(bad.replace("#a.mrc", "ab.mrc"))  # same size, likely the same mtime tick
        assert read_coords(path)["micrograph"].tolist() == ["ab"]


def test_a_damaged_npy_header_is_a_cryopick_error() -> None:
    """Found while fuzzing: np.load's header parser raised SyntaxError/TokenError straight from the CS reader."""
    raw = bytearray(valid_coordinate_file("cs"))
    with scratch() as folder:
        path = folder / "p.cs"
        for damaged in (raw[:20] + b"(" + raw[21:], raw.replace(b"'shape': (", b"'shape': 0(", 1),
                        raw.replace(b"'shape': (3,)", b"'shape': (10000000000000,)", 1)):
            path.write_bytes(bytes(damaged))
            with pytest.raises(CryopickError, match="p.cs"):
                MODULES["cs"].read(path, CoordOptions())


# ----------------------------------------------------------------------------- micrographs

MRC_SHAPE = (12, 16)
HEADER_WORDS = [0, 4, 8, 12, 16, 20, 24, 28, 40, 44, 48, 52, 92, 104, 152, 156, 208, 212]  # nx ny nz mode ...
INTERESTING_INTS = [-(2**31), -1, 0, 1, 2, 3, 4, 6, 12, 16, 1024, 10**6, 2**16, 2**30, 2**31 - 1]


@functools.lru_cache(maxsize=None)
def valid_image(suffix: str) -> bytes:
    data = np.random.default_rng(0).normal(size=MRC_SHAPE).astype(np.float32)
    if suffix == ".mrc":
        with scratch() as folder:
            with mrcfile.new(folder / "m.mrc") as mrc:
                mrc.set_data(data)
                mrc.voxel_size = 1.5
            return (folder / "m.mrc").read_bytes()
    buffer = io.BytesIO()
    gray = ((data - data.min()) / np.ptp(data) * 255).astype(np.uint8)
    if suffix == ".tif":
        tifffile.imwrite(buffer, gray, resolution=(1e8 / 1.5, 1e8 / 1.5), resolutionunit="CENTIMETER")
    else:
        Image.fromarray(gray).save(buffer, format="PNG" if suffix == ".png" else "JPEG")
    return buffer.getvalue()


@contextlib.contextmanager
def memory_capped(extra: int = 3 * 2**30) -> Iterator[None]:
    """Let this process grow by ``extra`` bytes of address space at most (no-op where not supported)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    cap = used + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def check_micrograph_readers(raw: bytes, suffix: str) -> None:
    with scratch() as folder:
        path = folder / f"mic{suffix}"
        path.write_bytes(raw)
        with memory_capped():
            for apix in (None, 1.0):
                try:
                    mic = read_micrograph(path, apix)
                except CryopickError as error:
                    assert "\n" not in error.message and str(path) in error.message
                else:
                    assert mic.data.dtype == np.float32 and mic.data.ndim == 2 and mic.data.size > 0
                    assert np.isfinite(mic.data).all()
                    assert np.isfinite(mic.apix) and mic.apix > 0
            try:
                info = read_micrograph_info(path, require_apix=False)
            except CryopickError:
                pass
            else:
                assert len(info.shape) == 2 and min(info.shape) > 0
                assert np.isnan(info.apix) or info.apix > 0


header_edit = st.one_of(
    st.tuples(st.just("word"), st.sampled_from(HEADER_WORDS), st.sampled_from(INTERESTING_INTS)),
    st.tuples(st.just("byte"), st.integers(0, 1023), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1024 + MRC_SHAPE[0] * MRC_SHAPE[1] * 4), st.just(0)),
)


@FUZZ
@given(edits=st.lists(header_edit, min_size=1, max_size=5), big_endian=st.booleans())
def test_read_micrograph_on_damaged_mrc_headers(edits: list[tuple[str, int, int]], big_endian: bool) -> None:
    raw = bytearray(valid_image(".mrc"))
    order = ">" if big_endian else "<"
    for kind, offset, value in edits:
        if kind == "word":
            raw[offset : offset + 4] = np.array([value], f"{order}i4").tobytes()
        elif kind == "byte" and offset < len(raw):
            raw[offset] = value
        else:
            del raw[offset:]
    check_micrograph_readers(bytes(raw), ".mrc")


@pytest.mark.parametrize("suffix", [".mrc", ".tif", ".png", ".jpg"])
@FUZZ
@given(edits=st.lists(mutation(1200), min_size=1, max_size=6))
def test_read_micrograph_on_mutated_files(suffix: str, edits: list[tuple[str, int, bytes]]) -> None:
    check_micrograph_readers(mutate(valid_image(suffix), edits), suffix)


MAGIC = {".mrc": b"", ".tif": b"II*\x00", ".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff"}


@pytest.mark.parametrize("suffix", [".mrc", ".tif", ".png", ".jpg"])
@FUZZ
@given(raw=st.binary(max_size=3000), with_magic=st.booleans())
def test_read_micrograph_on_arbitrary_bytes(suffix: str, raw: bytes, with_magic: bool) -> None:
    check_micrograph_readers((MAGIC[suffix] if with_magic else b"") + raw, suffix)


# ----------------------------------------------------------------------------- round trips

# per format: coordinate tolerance in px (see test_coords.CARRIES), and whether it keeps scores
CARRIES = {"star": (1e-3, True), "box": (1e-3, False), "cbox": (1e-3, True), "tsv": (0.5, True),
           "cs": (1e-3, True), "csv": (1e-9, True), "star_relion30": (1e-3, True)}

# Names as cryopick makes them (file stems). Per-micrograph files drop picker tags such as
# "_pick" from their names, and cryoSPARC a leading 19-22 digit uid, so those are left out.
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,11}", fullmatch=True).filter(
    lambda n: not n.endswith(PICKER_TAGS) and not n.endswith(".") and not n.lower().endswith(
        (".mrc", ".mrcs", ".map", ".tif", ".tiff", ".jpg", ".jpeg", ".png")))


@st.composite
def pick_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, tuple[int, int]]]:
    ny = draw(st.integers(8, 6000))
    nx = draw(st.integers(8, 6000).filter(lambda n: n != ny))
    mics = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 12))
    finite = {"allow_nan": False, "allow_infinity": False, "allow_subnormal": False}
    x = draw(st.lists(st.floats(-0.5, nx - 0.5, **finite), min_size=n, max_size=n))
    y = draw(st.lists(st.floats(-0.5, ny - 0.5, **finite), min_size=n, max_size=n))
    score = draw(st.lists(st.floats(-100, 100, **finite) | st.just(float("nan")), min_size=n, max_size=n))
    diameter = draw(st.lists(st.floats(4, 400, **finite), min_size=n, max_size=n))
    micrograph = draw(st.lists(st.sampled_from(mics), min_size=n, max_size=n))
    return make_picks(micrograph, x, y, score, diameter), {m: (ny, nx) for m in mics}


@pytest.mark.parametrize("fmt", [*FORMATS, "star_relion30"])
@ROUND_TRIP
@given(table=pick_tables(), flip=st.booleans())
def test_random_picks_round_trip(fmt: str, table: tuple[pd.DataFrame, dict], flip: bool) -> None:
    picks, shapes = table
    tolerance, keeps_score = CARRIES[fmt]
    kind = "star" if fmt == "star_relion30" else fmt
    options = CoordOptions(shapes=shapes, apix=1.06, flip_y=flip,
                           star_style="relion30" if fmt == "star_relion30" else "relion31")
    with scratch() as folder:
        target = folder / ("out" if kind in PER_MICROGRAPH or fmt == "star_relion30" else f"out{SUFFIX[kind]}")
        write_coords(picks, target, kind, options)
        back = read_coords(target, kind, CoordOptions(shapes=shapes, flip_y=flip))
    # per-micrograph formats regroup rows by micrograph; within one the order is kept
    expected = picks.sort_values("micrograph", kind="stable").reset_index(drop=True)
    back = back.sort_values("micrograph", kind="stable").reset_index(drop=True)
    assert back["micrograph"].tolist() == expected["micrograph"].tolist()
    np.testing.assert_allclose(back["x"], expected["x"], atol=tolerance + 1e-9, rtol=0)
    np.testing.assert_allclose(back["y"], expected["y"], atol=tolerance + 1e-9, rtol=0)
    if keeps_score:
        np.testing.assert_allclose(back["score"], expected["score"], rtol=1e-6, atol=1e-6, equal_nan=True)
