"""Cleaning from files: the picks on the micrographs named, clustered, written as kept and rejected.

>>> job = CleanJob(("mics/",), Path("picks.star"), Path("kept.star"), diameter_A=150,
...                rejected=Path("junk.star"), report=Path("clean"))          # doctest: +SKIP
>>> result = clean_files(job)                                                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import read_micrograph, read_micrograph_info
from cryopick.io.picks import check_inside, check_names_match, match_names
from cryopick.postprocess.clean import CleanConfig, CleanResult, clean_picks
from cryopick.reports.figures import plot_cluster_averages


@dataclass(frozen=True)
class CleanJob:
    """What to clean, how, and where the kept picks, the rejected ones and the report go.

    Attributes
    ----------
    micrographs
        Files, folders, globs, @lists or STAR files of the micrographs the picks are on.
    picks
        The picks (any supported format, or a folder of BOX/CBOX).
    output
        Where the kept picks are written (``fmt``, else from the suffix).
    diameter_A
        Particle diameter in Å.
    config
        Boxes, clustering and the junk cut.
    rejected
        Where the rejected picks are written; None: not written.
    report
        Folder for ``clusters.csv``, ``picks_clusters.csv`` and ``clusters.png``; None: none.
    keep_clusters, reject_clusters
        Clusters kept or rejected whatever their distance.
    apix
        Pixel size in Å/px, overriding the headers.
    fmt, picks_format
        Format of the outputs and of ``picks``; None: from the suffix.
    """

    micrographs: tuple[str, ...]
    picks: Path
    output: Path
    diameter_A: float
    config: CleanConfig = field(default_factory=CleanConfig)
    rejected: Path | None = None
    report: Path | None = None
    keep_clusters: tuple[int, ...] = ()
    reject_clusters: tuple[int, ...] = ()
    apix: float | None = None
    fmt: str | None = None
    picks_format: str | None = None


def clean_files(job: CleanJob) -> CleanResult:
    """Cluster the picks on the micrographs, write the kept (and rejected) ones and the report.

    The picks are written with the columns they were read with; the result carries every
    pick's cluster and verdict (after ``keep_clusters`` and ``reject_clusters``).

    Raises
    ------
    CryopickError
        Unreadable files, names matching no micrograph, picks outside their micrograph,
        no pick on the micrographs given, or an unknown cluster named.
    """
    paths = list_micrographs(job.micrographs)
    infos = [read_micrograph_info(p, job.apix) for p in paths]
    shapes = {info.name: info.shape for info in infos}
    table = match_names(read_coords(job.picks, job.picks_format, CoordOptions()), shapes)
    check_names_match(table, shapes, job.picks)
    check_inside(table, shapes, job.picks)
    table = table.loc[table["micrograph"].isin(shapes)].reset_index(drop=True)
    if table.empty:
        raise CryopickError("no pick lies on the micrographs given", path=job.picks,
                            fix="give the micrographs the picks were made on (names match by file stem)")
    result = clean_picks((read_micrograph(p, job.apix) for p in paths), table, job.diameter_A, job.config)
    if job.keep_clusters or job.reject_clusters:
        result = result.with_verdicts(job.keep_clusters, job.reject_clusters)
    columns = list(table.columns)  # what was read, without the clustering's columns
    options = CoordOptions(shapes=shapes, apix=infos[0].apix if infos else None)
    write_coords(result.kept[columns], job.output, job.fmt, options)
    if job.rejected is not None:
        write_coords(result.rejected[columns], job.rejected, job.fmt, options)
    if job.report is not None:
        _write_report(job.report, result)
    return result


def _write_report(folder: Path, result: CleanResult) -> None:
    """``clusters.csv``, ``picks_clusters.csv`` and ``clusters.png`` (each cluster's average) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "clusters.csv", result.clusters.to_csv(index=False))
    write_text_atomic(folder / "picks_clusters.csv", result.picks.to_csv(index=False))
    plot_cluster_averages(result.averages, result.clusters, folder / "clusters.png",
                          title=f"{len(result.picks)} picks in {len(result.clusters)} clusters")
