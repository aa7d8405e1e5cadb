"""Which micrographs a user means: files, folders, globs, @lists and STAR files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import starfile

from cryopick.errors import CryopickError
from cryopick.io.listing import list_micrographs



@pytest.fixture()
def mics(tmp_path: Path) -> Path:
    """A folder with three micrographs (mixed formats), a coordinate file and a subfolder."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("b.mrc", "a.mrc", "c.tiff"):
        (folder / name).write_bytes(b"x")  # listing does not read pixels
    coords = pd.DataFrame({"rlnCoordinateX": [1.0], "rlnCoordinateY": [2.0]})
    starfile.write(coords, folder / "a_autopick.star")
    (folder / "sub").mkdir()
    (folder / "sub" / "d.mrc").write_bytes(b"x")
    return folder


def test_list_files_globs_folders_dedup_in_order(mics: Path) -> None:
    a, b, c = mics / "a.mrc", mics / "b.mrc", mics / "c.tiff"
    assert list_micrographs([mics]) == [a, b, c]  # sorted, not recursive, images only
    assert list_micrographs([str(mics / "*.mrc")]) == [a, b]
    assert list_micrographs([b, str(mics / "*.mrc"), c, a]) == [b, a, c]
    assert list_micrographs([str(b)]) == [b]


def test_list_from_at_file(mics: Path) -> None:
    listing = mics / "list.txt"
    listing.write_text(f"# my micrographs\nb.mrc\n\n  sub/d.mrc \n{mics / 'a.mrc'}\n")
    assert list_micrographs([f"@{listing}"]) == [mics / "b.mrc", mics / "sub" / "d.mrc", mics / "a.mrc"]
    listing.write_text("b.mrc\nnope.mrc\n")
    with pytest.raises(CryopickError, match=r"list\.txt.*line 2: nope\.mrc not found"):
        list_micrographs([f"@{listing}"])
    listing.write_text("# nothing\n")
    with pytest.raises(CryopickError, match="names no micrographs"):
        list_micrographs([f"@{listing}"])
    with pytest.raises(CryopickError, match=r"write @"):
        list_micrographs([listing])


def test_list_from_star_relative_to_cwd_then_star(
    mics: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    star = mics / "micrographs.star"
    optics = pd.DataFrame({"rlnOpticsGroup": [1], "rlnMicrographPixelSize": [1.0]})
    names = pd.DataFrame({"rlnMicrographName": ["data/a.mrc", "sub/d.mrc"], "rlnOpticsGroup": [1, 1]})
    starfile.write({"optics": optics, "micrographs": names}, star)
    monkeypatch.chdir(tmp_path)  # data/a.mrc resolves from the cwd, sub/d.mrc from the STAR folder
    assert list_micrographs([star]) == [Path("data/a.mrc"), mics / "sub" / "d.mrc"]
    starfile.write({"micrographs": pd.DataFrame({"rlnMicrographName": ["gone.mrc"]})}, star)
    with pytest.raises(CryopickError, match=r"micrographs\.star.*gone\.mrc not found"):
        list_micrographs([star])
    starfile.write({"particles": pd.DataFrame({"rlnCoordinateX": [1.0]})}, star)
    with pytest.raises(CryopickError, match=r"micrographs\.star.*no _rlnMicrographName"):
        list_micrographs([star])


def test_list_errors(mics: Path, tmp_path: Path) -> None:
    cases = {
        str(mics / "zzz.mrc"): "zzz.mrc: file not found",
        str(mics / "*.png"): r"\*\.png: pattern matches nothing",
        str(mics / "*.star"): "matches 1 paths but no micrographs",
        str(mics / "a_autopick.star"): "no _rlnMicrographName",
        "@" + str(mics / "none.txt"): "none.txt: list file not found",
    }
    (tmp_path / "empty").mkdir()
    cases[str(tmp_path / "empty")] = "empty: folder holds no micrographs"
    for item, pattern in cases.items():
        with pytest.raises(CryopickError, match=pattern):
            list_micrographs([item])
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.mrc").write_bytes(b"x")
    with pytest.raises(CryopickError, match="share the name 'a'"):
        list_micrographs([mics / "a.mrc", other / "a.mrc"])
    link = tmp_path / "a_link"
    link.mkdir()
    os.symlink(mics / "a.mrc", link / "a.mrc")
    assert list_micrographs([mics / "a.mrc", link / "a.mrc"]) == [mics / "a.mrc"]  # same file twice
    with pytest.raises(CryopickError, match="no micrographs were given"):
        list_micrographs([])
