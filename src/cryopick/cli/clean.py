"""cryopick clean: cluster picks by rotation-invariant features and set junk aside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, console
from cryopick.cli._options import Apix, MicrographsWithPicks

Picks = Annotated[Path, typer.Option(
    "--picks", help="Picks to clean (any supported format, or a folder of BOX/CBOX).")]
Output = Annotated[Path, typer.Option(
    "-o", "--output", help="Kept picks (.star .tsv .cs .csv, or a folder for box/cbox).")]
Diameter = Annotated[float, typer.Option("--diameter", "-d", help="Particle diameter in Å.")]
Rejected = Annotated[Optional[Path], typer.Option(
    "--rejected", help="Write the rejected picks here (same formats).")]
Report = Annotated[Optional[Path], typer.Option(
    "--report", help="Folder for clusters.csv, picks_clusters.csv and clusters.png (each cluster's average).")]
Clusters = Annotated[int, typer.Option("--clusters", help="k-means clusters.")]
JunkDistance = Annotated[float, typer.Option(
    "--junk-distance", help="Flag a cluster whose median pick lies further than this many robust spreads "
    "from the largest cluster (the particles).")]
KeepClusters = Annotated[Optional[list[int]], typer.Option(
    "--keep-cluster", help="Keep this cluster whatever its distance (repeat; numbers from the report).")]
RejectClusters = Annotated[Optional[list[int]], typer.Option(
    "--reject-cluster", help="Reject this cluster (repeat).")]
Format = Annotated[Optional[str], typer.Option("--format", help="Output format if not from the suffix.")]
PicksFormat = Annotated[Optional[str], typer.Option(
    "--picks-format", help="Format of --picks if not from the suffix.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the k-means initialisation.")]


def clean_command(
    micrographs: MicrographsWithPicks, picks: Picks, output: Output, diameter: Diameter, rejected: Rejected = None,
    report: Report = None, n_clusters: Clusters = 8, junk_distance: JunkDistance = 6.0,
    keep_clusters: KeepClusters = None, reject_clusters: RejectClusters = None, apix: Apix = None,
    fmt: Format = None, picks_format: PicksFormat = None, seed: Seed = 0,
) -> None:
    """Set junk picks aside by conventional means: rotation-invariant features, PCA, k-means.

    Example:

        cryopick clean mics/*.mrc --picks picks.star -d 150 -o kept.star --rejected junk.star --report clean/

    Every pick is boxed out (1.2 diameters), described by its rotational average, its
    rotational spread and polar Fourier magnitudes, and clustered. The largest cluster is
    taken to be the particles; clusters far from it (dots, ice, carbon) are rejected.
    Look at clean/clusters.png and overrule with --keep-cluster / --reject-cluster N
    (the same --seed gives the same clusters).
    """
    from cryopick.postprocess.clean import CleanConfig
    from cryopick.postprocess.clean_job import CleanJob, clean_files

    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    check_positive(junk_distance, "--junk-distance")
    fmt = check_format(fmt)
    config = CleanConfig(n_clusters=n_clusters, junk_distance=junk_distance, seed=seed)
    job = CleanJob(tuple(micrographs), picks, output, diameter, config, rejected=rejected, report=report,
                   keep_clusters=tuple(keep_clusters or ()), reject_clusters=tuple(reject_clusters or ()),
                   apix=apix, fmt=fmt, picks_format=check_format(picks_format))
    result = clean_files(job)
    for _, row in result.clusters.iterrows():
        verdict = "[red]junk[/red]" if row["junk"] else "kept"
        console.print(f"cluster {int(row['cluster'])}: {int(row['n_picks'])} picks, "
                      f"median distance {row['median_distance']:.1f} -> {verdict}")
    console.print(f"{len(result.kept)} kept -> {output}; {len(result.rejected)} rejected"
                  + (f" -> {rejected}" if rejected is not None else ""))
