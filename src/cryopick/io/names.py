"""Micrograph names: how coordinates find their micrograph.

A micrograph's name is its file stem: the file name without folders and without the
image suffix. ``MotionCorr/job003/Movies/mic_0001.mrc`` and ``mic_0001.star`` both name
``mic_0001``. Per-micrograph coordinate files also drop the suffixes pickers add
(``mic_0001_autopick.star`` from RELION names ``mic_0001`` too).
"""

from __future__ import annotations

from pathlib import PurePath

IMAGE_SUFFIXES: tuple[str, ...] = (".mrc", ".mrcs", ".map", ".tif", ".tiff", ".jpg", ".jpeg", ".png")
COORD_SUFFIXES: tuple[str, ...] = (".star", ".box", ".cbox", ".tsv", ".txt", ".csv", ".cs", ".json")
PICKER_TAGS: tuple[str, ...] = ("_autopick", "_manualpick", "_pick", "_picks", "_coords", "_cryopick")


def micrograph_name(path: str | PurePath) -> str:
    """The name of the micrograph a path refers to (its stem).

    >>> micrograph_name("MotionCorr/job003/Movies/mic_0001.mrc")
    'mic_0001'
    >>> micrograph_name("mic_0001.tiff")
    'mic_0001'
    """
    return _without_suffix(PurePath(str(path)).name, IMAGE_SUFFIXES)


def coordinate_file_name(path: str | PurePath) -> str:
    """The micrograph name a per-micrograph coordinate file refers to.

    >>> coordinate_file_name("Autopick/job010/mic_0001_autopick.star")
    'mic_0001'
    >>> coordinate_file_name("CBOX/mic_0001.cbox")
    'mic_0001'
    """
    name = _without_suffix(PurePath(str(path)).name, COORD_SUFFIXES)
    for tag in PICKER_TAGS:
        if name.endswith(tag) and len(name) > len(tag):
            return name[: -len(tag)]
    return micrograph_name(name)


def _without_suffix(name: str, suffixes: tuple[str, ...]) -> str:
    """``name`` without the first of ``suffixes`` it ends with (compared in lower case)."""
    lower = name.lower()
    for suffix in suffixes:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name
