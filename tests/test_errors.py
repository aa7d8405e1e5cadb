"""cryopick.errors: a CryopickError is one line naming the file first and the fix last."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.errors import CryopickError


def test_the_message_names_the_file_then_the_problem_then_the_fix() -> None:
    error = CryopickError("pixel size is missing (0 in the header)", path="mics/a.mrc", fix="pass --apix")
    assert error.message == "mics/a.mrc: pixel size is missing (0 in the header); fix: pass --apix"
    assert str(error) == error.message
    assert error.path == Path("mics/a.mrc") and error.problem.startswith("pixel size") and error.fix == "pass --apix"


def test_path_and_fix_are_optional() -> None:
    assert CryopickError("no micrographs").message == "no micrographs"
    assert CryopickError("no micrographs", fix="give a folder").message == "no micrographs; fix: give a folder"
    error = CryopickError("empty file", path=Path("a.star"))
    assert error.message == "a.star: empty file" and error.fix is None


def test_text_with_line_breaks_becomes_one_line() -> None:
    error = CryopickError("cannot parse:\n  line 3\r\n  bad  value", path="a.star", fix="check\nthe file")
    assert error.message == "a.star: cannot parse: line 3 bad value; fix: check the file"
    assert "\n" not in str(error) and "\r" not in str(error)
    # without a line break the text is kept exactly, double spaces and all
    assert CryopickError("a  b").message == "a  b"


def test_it_is_an_exception_to_raise_and_catch() -> None:
    with pytest.raises(CryopickError, match="bad flag; fix: drop it") as caught:
        raise CryopickError("bad flag", fix="drop it")
    assert isinstance(caught.value, Exception)
