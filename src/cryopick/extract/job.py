"""Extraction from files: the micrographs and picks a user names, the CTF and optics found for them.

>>> extract_files(ExtractJob(("mics/",), Path("picks.star"), Path("particles"), ExtractConfig(256)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryopick.extract.boxes import ExtractConfig
from cryopick.extract.layout import PARTICLES_STAR
from cryopick.extract.particles import ExtractResult, extract_particles
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.ctf_star import CtfTable, ctf_of_micrographs_star, read_ctf_star
from cryopick.io.listing import list_micrographs


@dataclass(frozen=True)
class ExtractJob:
    """What to extract from where, and how.

    Attributes
    ----------
    micrographs
        Files, folders, globs, @lists or STAR files of the micrographs; one
        ``micrographs_ctf.star`` also gives the CTF (when ``ctf`` is None).
    picks
        The picks (any supported format, or a folder of BOX/CBOX).
    output
        The folder for ``particles.star`` and ``Particles/<micrograph>.mrcs``.
    config
        Box, rescaling, normalisation, contrast and edges; its optics (voltage, Cs,
        amplitude contrast) serve where neither ``optics`` nor the CTF file gives them.
    optics
        ``voltage_kv``, ``cs_mm``, ``amplitude_contrast`` given by the user: they win
        over the CTF file's optics.
    ctf
        RELION's ``micrographs_ctf.star``: each particle gets its micrograph's CTF.
    apix
        Pixel size in Å/px, overriding the headers.
    picks_format
        The format of ``picks``; None: from the suffix.
    """

    micrographs: tuple[str, ...]
    picks: Path
    output: Path
    config: ExtractConfig
    optics: Mapping[str, float] = field(default_factory=dict)
    ctf: Path | None = None
    apix: float | None = None
    picks_format: str | None = None


def extract_files(job: ExtractJob) -> ExtractResult:
    """Extract the picks into ``job.output``: ``particles.star`` and one stack per micrograph.

    The CTF comes from ``job.ctf``, else from the micrographs when they are one STAR
    file with a fitted CTF; see :func:`cryopick.extract.particles.extract_particles`.
    """
    ctf = _ctf_table(job.ctf, job.micrographs)
    config = replace(job.config, **{**({} if ctf is None else ctf.optics), **job.optics})
    paths = list_micrographs(job.micrographs)
    table = read_coords(job.picks, job.picks_format, CoordOptions())
    return extract_particles(paths, table, job.output / PARTICLES_STAR, config, apix=job.apix,
                             picks_source=job.picks, ctf=ctf)


def _ctf_table(ctf: Path | None, micrographs: tuple[str, ...]) -> CtfTable | None:
    """``ctf``'s table; else that of the one micrographs STAR file given, when it has a CTF; else None."""
    if ctf is not None:
        return read_ctf_star(ctf)
    return ctf_of_micrographs_star(Path(micrographs[0])) if len(micrographs) == 1 else None
