"""One module per coordinate format; :mod:`cryopick.io.coords` picks among them.

Every module offers ``SUFFIXES``, ``read(path, options) -> DataFrame`` (a raw Picks table
for one file, before validation and flipping) and ``write(picks, path, options) ->
list[Path]``. Each module's docstring states its conventions: origin, corner or centre,
flip, and what the format cannot hold.
"""

from __future__ import annotations

from types import ModuleType

from cryopick.io.formats import box, cbox, cs, csv, star, tsv

MODULES: dict[str, ModuleType] = {"star": star, "box": box, "cbox": cbox, "tsv": tsv, "cs": cs, "csv": csv}
"""Format name -> module: the one list of formats (:data:`cryopick.io.coords.FORMATS` is its names, in this order).

A new format is one module here plus one entry in this dict."""

SUFFIX_FORMATS: dict[str, str] = {suffix: name for name, module in MODULES.items() for suffix in module.SUFFIXES}
"""File suffix (lower case, with the dot) -> format name."""

PER_MICROGRAPH: frozenset[str] = frozenset({"box", "cbox"})
"""Formats that always write one file per micrograph into a folder (STAR does with star_style="relion30")."""

__all__ = ["MODULES", "PER_MICROGRAPH", "SUFFIX_FORMATS"]
