"""Atomic writes: a reader never sees a half-written file, and files are normally readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cryopick.io.atomic import atomic_path, write_text_atomic


def test_write_replaces_whole_file_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "picks.star"
    write_text_atomic(target, "old\n")
    write_text_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["picks.star"]


def test_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "picks.star"
    target.write_text("complete\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["picks.star"]


def test_written_files_follow_the_umask_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
