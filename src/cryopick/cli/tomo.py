"""``cryopick tomo``: tomograms (3D MRC): simulate, train, pick, evaluate. Each docstring is its --help."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_positive, say

app = typer.Typer(help="Pick particles in tomograms (3D MRC): simulate, train, pick, evaluate. "
                  "Coordinates are x, y, z = column, row, section, in voxels of the tomogram.",
                  no_args_is_help=True, rich_markup_mode="markdown")

Tomograms = Annotated[list[str], typer.Argument(help="Tomograms: 3D MRC files or folders of them.")]
Apix = Annotated[Optional[float], typer.Option("--apix", help="Voxel size in Å; overrides the headers.")]
Diameter = Annotated[Optional[float], typer.Option("--diameter", "-d", help="Particle diameter in Å.")]


@app.command("simulate")
def simulate_command(
    out: Annotated[Path, typer.Argument(help="Folder to write tomograms/, truth.csv, truth.star, labels.star.")],
    n: Annotated[int, typer.Option("--n", help="Tomograms to make.")] = 3,
    size: Annotated[int, typer.Option("--size", help="Columns and rows (voxels).")] = 512,
    thickness: Annotated[int, typer.Option("--thickness", help="Sections (voxels).")] = 200,
    apix: Annotated[float, typer.Option("--apix", help="Voxel size in Å.")] = 10.0,
    structure: Annotated[str, typer.Option("--structure", help="Builtin structure name or a PDB/mmCIF/MRC file.")]
    = "6qt9",
    particles: Annotated[int, typer.Option("--particles", help="Particles per tomogram.")] = 120,
    snr: Annotated[float, typer.Option("--snr", help="Per-tilt SNR of the particles at 0°.")] = 0.05,
    tilt_range: Annotated[float, typer.Option("--tilt-range", help="Tilts from -this to +this, in degrees.")] = 60.0,
    tilt_step: Annotated[float, typer.Option("--tilt-step", help="Tilt step in degrees.")] = 3.0,
    label_fraction: Annotated[float, typer.Option("--label-fraction", help="Fraction of particles labelled.")]
    = 0.2,
    wrong_label_fraction: Annotated[float, typer.Option(
        "--wrong-label-fraction", help="Fraction of labels put on junk or background instead.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Simulate tomograms with their truth: a tilt series through CTF and dose, reconstructed by WBP.

    Example:

        cryopick tomo simulate tsim/ --n 3 --structure 6qt9 --seed 0

    Particles at random orientations in a slab of ice, gold fiducials, vesicles and ice
    contamination; the tilt series (default ±60° in 3° steps, dose-symmetric) has the
    CTF, dose-dependent fading and noise, and weighted back-projection leaves the missing
    wedge. truth.csv lists every object with its kind; labels.star has --label-fraction
    of the particles, --wrong-label-fraction of them wrong. A 512x512x200 tomogram takes
    about 20 s on 2 cores (docs/tomograms.md).
    """
    from cryopick.tomo.dataset import simulate_tomo_dataset
    from cryopick.tomo.simulate import TomoSimConfig

    config = TomoSimConfig(shape=(thickness, size, size), apix=apix, structure=structure, n_particles=particles,
                           snr=snr, tilt_max_deg=tilt_range, tilt_step_deg=tilt_step, label_fraction=label_fraction,
                           wrong_label_fraction=wrong_label_fraction, seed=seed)
    files = simulate_tomo_dataset(out, config, n, progress=lambda done, total: say(f"tomogram {done} of {total}"))
    say(f"-> {out}/ ({', '.join(Path(p).name for p in files.values())})")


@app.command("train")
def train_command(
    tomograms: Tomograms,
    coords: Annotated[Path, typer.Option("--coords", help="Labelled particles: RELION 5 STAR, Dynamo .tbl or CSV.")],
    diameter: Annotated[float, typer.Option("--diameter", "-d", help="Particle diameter in Å.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write.")],
    apix: Apix = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="Most training steps (default 1200).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    background: Annotated[Optional[Path], typer.Option(
        "--background-coords", help="Points that are not particles (rejected picks, membranes, contamination), "
        "any 3D coordinate format; learned as known background.")] = None,
) -> None:
    """Train the 3D picker from sparse point labels (positive-unlabeled; wrong labels tolerated).

    Example:

        cryopick tomo train tsim/tomograms/tomo_000[01].mrc --coords tsim/labels.star --diameter 300 -o tomo.cryopick

    The particle count is estimated from the data; training stops when a held-out slab
    stops improving. The model file carries the diameter and the threshold. Picks you
    rejected (say, on membranes) can be given back with --background-coords:

        cryopick tomo train tsim/tomograms/tomo_000[01].mrc --coords tsim/labels.star -d 300 --background-coords rejected.csv -o tomo2.cryopick
    """
    from cryopick.tomo.jobs import TomoTrainJob, train_files

    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    path = train_files(TomoTrainJob(tuple(tomograms), coords, diameter, output, apix=apix, max_steps=steps,
                                    seed=seed, background=background), say=say)
    say(f"-> {path}")


@app.command("pick")
def pick_command(
    tomograms: Tomograms,
    output: Annotated[Path, typer.Option("-o", "--output", help="Picks file: .star (RELION 5), .tbl, .csv, .tsv.")],
    model: Annotated[Optional[Path], typer.Option("--model", help="A model from `cryopick tomo train`.")] = None,
    diameter: Diameter = None,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="Keep picks scoring at least this (default: the model's own; LoG: 2.5).")] = None,
    all_peaks: Annotated[bool, typer.Option("--all-peaks", metavar="", help="Write every candidate.")] = False,
    apix: Apix = None,
    workers: Annotated[int, typer.Option("--workers", help="Tomograms picked in parallel processes.")] = 1,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", help="Spread the tomograms over a Dask cluster: 'local' (a LocalCluster of --workers processes) "
        "or a scheduler address, e.g. tcp://scheduler:8786; its workers must see the same files.")] = None,
) -> None:
    """Pick particles in tomograms with a trained model, or with the 3D LoG (--diameter, no model).

    Example:

        cryopick tomo pick tsim/tomograms --model tomo.cryopick -o picks.star
        cryopick tomo pick tsim/tomograms --model tomo.cryopick -o picks.star --dask tcp://scheduler:8786

    Each finished tomogram is kept in OUTPUT.parts/: the same command resumes and writes
    the same picks. Inference is tiled under a fixed memory cap, so memory stays bounded
    whatever the tomogram's size.
    """
    from cryopick.tomo.jobs import TomoPickJob, pick_files

    check_positive(diameter, "--diameter")
    picks = pick_files(TomoPickJob(tuple(tomograms), output, model, diameter, threshold, all_peaks, apix,
                                   max(1, workers), dask), say=say)
    say(f"{len(picks)} picks in {picks['tomogram'].nunique()} tomogram(s) -> {output}")


@app.command("evaluate")
def evaluate_command(
    picks: Annotated[Path, typer.Option("--picks", help="Picks (STAR, .tbl, CSV).")],
    truth: Annotated[Path, typer.Option("--truth", help="True particles (STAR, .tbl, CSV).")],
    tomograms: Annotated[Optional[list[str]], typer.Option(
        "--tomograms", "-t", help="The tomograms (for centred Å coordinates and Dynamo numbers).")] = None,
    radius_vox: Annotated[Optional[float], typer.Option(
        "--radius-vox", help="Match radius in voxels (default half the truth's diameter).")] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="Judge picks scoring at least this.")]
    = None,
    apix: Apix = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the metrics as JSON.")] = False,
) -> None:
    """Match picks to truth one-to-one in 3D and report precision, recall, F1 and AP.

    Example:

        cryopick tomo evaluate --picks picks.star --truth tsim/truth.star
    """
    from cryopick.tomo.jobs import TomoEvaluateJob, evaluate_files

    result = evaluate_files(TomoEvaluateJob(picks, truth, radius_vox, threshold, tuple(tomograms or ()), apix))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    say(f"picks {result.n_picks}, truth {result.n_truth}, matched {result.n_matched} (within {result.radius_px:.1f} "
        f"voxels): precision {result.precision:.3f}, recall {result.recall:.3f}, F1 {result.f1:.3f}, "
        f"AP {result.average_precision:.3f}, best F1 {result.best_f1:.3f}")
