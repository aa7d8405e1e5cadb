"""Micrograph names: how coordinates find their micrograph.

A micrograph's name is its file stem: the file name without folders and without the
image suffix. ``MotionCorr/job003/Movies/mic_0001.mrc`` and ``mic_0001.star`` both name
``mic_0001``. Per-micrograph coordinate files also drop the suffixes pickers add
(``mic_0001_autopick.star`` from RELION names ``mic_0001`` too).

Coordinates often name another product of the same movie than the micrographs given:
``mic_0001_DW`` (MotionCor2's dose-weighted sum) against ``mic_0001.mrc``, or cryoSPARC's
``008167452376738419843_mic_0001_patch_aligned_doseweighted``. A coordinate name that
matches no micrograph exactly is matched by :func:`base_name` (without a cryoSPARC UID
prefix of 15 or more digits and without the motion-correction suffixes of
:data:`PROCESSING_TAGS`, in any case), when exactly one micrograph has that base name
(:func:`name_map`). Exact names always win.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath

IMAGE_SUFFIXES: tuple[str, ...] = (".mrc", ".mrcs", ".map", ".tif", ".tiff", ".jpg", ".jpeg", ".png")
COORD_SUFFIXES: tuple[str, ...] = (".star", ".box", ".cbox", ".tsv", ".txt", ".csv", ".cs", ".json")
PICKER_TAGS: tuple[str, ...] = ("_autopick", "_manualpick", "_pick", "_picks", "_coords", "_cryopick")
PROCESSING_TAGS: tuple[str, ...] = ("_patch_aligned_doseweighted", "_patch_aligned", "_doseweighted",
                                    "_dose_weighted", "_aligned", "_nodw", "_dw", "_sum", "_fractions")
"""Suffixes of motion-corrected sums (compared in lower case) that :func:`base_name` drops."""
_UID_PREFIX = re.compile(r"^\d{15,}_")


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


def base_name(name: str) -> str:
    """A micrograph name without a cryoSPARC UID prefix and motion-correction suffixes.

    >>> base_name("008167452376738419843_mic_0001_patch_aligned_doseweighted")
    'mic_0001'
    >>> base_name("mic_0001_DW")
    'mic_0001'
    """
    out = _UID_PREFIX.sub("", name)
    while True:
        lower = out.lower()
        tag = next((t for t in PROCESSING_TAGS if lower.endswith(t) and len(out) > len(t)), None)
        if tag is None:
            return out
        out = out[: -len(tag)]


def name_map(coordinate_names: Iterable[str], micrograph_names: Iterable[str]) -> dict[str, str]:
    """Coordinate names that match no micrograph exactly but exactly one by :func:`base_name`, mapped to it.

    >>> name_map(["mic_0001_DW", "mic_0002"], ["mic_0001", "mic_0002"])
    {'mic_0001_DW': 'mic_0001'}
    """
    known = set(micrograph_names)
    by_base: dict[str, list[str]] = {}
    for name in sorted(known):
        by_base.setdefault(base_name(name), []).append(name)
    mapping = {}
    for name in sorted(set(coordinate_names) - known):
        candidates = by_base.get(base_name(name), [])
        if len(candidates) == 1:
            mapping[name] = candidates[0]
    return mapping
