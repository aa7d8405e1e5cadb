"""cryopick clean: cluster picks by rotation-invariant features and set junk aside."""

from __future__ import annotations

from pathlib import Path

import typer

from cryopick.postprocess.clean import CleanConfig, clean_picks
from cryopick.cli._common import check_format, check_positive, console
from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import read_micrograph, read_micrograph_info
from cryopick.io.picks import check_inside, check_names_match
from cryopick.reports.figures import plot_cluster_averages


def clean_command(
    micrographs: list[str] = typer.Argument(
        ..., help="The micrographs the picks are on: files, folders, globs, @list.txt or a STAR file."
    ),
    picks: Path = typer.Option(..., "--picks", help="Picks to clean (any supported format, or a folder of BOX/CBOX)."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Kept picks (.star .tsv .cs .csv, or a folder for box/cbox)."
    ),
    diameter: float = typer.Option(..., "--diameter", "-d", help="Particle diameter in Å."),
    rejected: Path | None = typer.Option(None, "--rejected", help="Write the rejected picks here (same formats)."),
    report: Path | None = typer.Option(
        None, "--report", help="Folder for clusters.csv, picks_clusters.csv and clusters.png (each cluster's average)."
    ),
    n_clusters: int = typer.Option(8, "--clusters", help="k-means clusters."),
    junk_distance: float = typer.Option(
        6.0, "--junk-distance", help="Flag a cluster whose median pick lies further than this many robust spreads "
        "from the largest cluster (the particles)."
    ),
    keep_clusters: list[int] | None = typer.Option(None, "--keep-cluster", help="Keep this cluster whatever its "
                                                   "distance (repeat; numbers from the report)."),
    reject_clusters: list[int] | None = typer.Option(None, "--reject-cluster", help="Reject this cluster (repeat)."),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    fmt: str | None = typer.Option(None, "--format", help="Output format if not from the suffix."),
    picks_format: str | None = typer.Option(None, "--picks-format", help="Format of --picks if not from the suffix."),
    seed: int = typer.Option(0, "--seed", help="Seed of the k-means initialisation."),
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
    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    check_positive(junk_distance, "--junk-distance")
    fmt = check_format(fmt)
    config = CleanConfig(n_clusters=n_clusters, junk_distance=junk_distance, seed=seed)
    paths = list_micrographs(micrographs)
    infos = [read_micrograph_info(p, apix) for p in paths]
    shapes = {info.name: info.shape for info in infos}
    table = read_coords(picks, check_format(picks_format), CoordOptions())
    check_names_match(table, shapes, picks)
    check_inside(table, shapes, picks)
    table = table.loc[table["micrograph"].isin(shapes)].reset_index(drop=True)
    if table.empty:
        raise CryopickError("no pick lies on the micrographs given", path=picks,
                            fix="give the micrographs the picks were made on (names match by file stem)")
    result = clean_picks((read_micrograph(p, apix) for p in paths), table, diameter, config)
    if keep_clusters or reject_clusters:
        result = result.with_verdicts(keep_clusters or (), reject_clusters or ())
    columns = list(table.columns)  # what was read, without the clustering's columns
    options = CoordOptions(shapes=shapes, apix=infos[0].apix if infos else None)
    write_coords(result.kept[columns], output, fmt, options)
    if rejected is not None:
        write_coords(result.rejected[columns], rejected, fmt, options)
    if report is not None:
        report.mkdir(parents=True, exist_ok=True)
        write_text_atomic(report / "clusters.csv", result.clusters.to_csv(index=False))
        write_text_atomic(report / "picks_clusters.csv", result.picks.to_csv(index=False))
        plot_cluster_averages(result.averages, result.clusters, report / "clusters.png",
                              title=f"{len(result.picks)} picks in {len(result.clusters)} clusters")
    for _, row in result.clusters.iterrows():
        verdict = "[red]junk[/red]" if row["junk"] else "kept"
        console.print(f"cluster {int(row['cluster'])}: {int(row['n_picks'])} picks, "
                      f"median distance {row['median_distance']:.1f} -> {verdict}")
    console.print(f"{len(result.kept)} kept -> {output}; {len(result.rejected)} rejected"
                  + (f" -> {rejected}" if rejected is not None else ""))
