"""Run Topaz (train + pick) on the CPU, for the head-to-head benchmark against cryopick.

What it does
------------
:func:`ensure_topaz` creates, once, a separate virtual env ``benchmarks/.venv-topaz`` with
Topaz 0.3.20 on a CPU-only torch. :func:`run_topaz` then runs Topaz's own workflow in
that env, each step a ``topaz`` command (started through a tiny launcher that seeds
``random``, numpy and torch and gives every unseeded ``np.random.default_rng()`` a seed
derived from ``seed``, because ``topaz train`` has no seed option):

1. ``topaz preprocess -s DOWNSAMPLE`` (Fourier-crop downsampling + GMM normalisation) of
   the train and of the test micrographs, timed separately;
2. the training labels scaled to the downsampled grid, written as a Topaz coord table
   (``image_name, x_coord, y_coord``; image name = file stem);
3. ``topaz train`` with Topaz's defaults (resnet8, 32 units, initialised from the
   pretrained resnet8_u32 weights shipped in the package, GE-binomial, label radius 3,
   minibatch 256) and ``-n`` = the expected particles per micrograph (the benchmark
   gives it the TRUE mean, an advantage to Topaz), for the caller's schedule; no test
   split; the last epoch's model is used;
4. ``topaz extract -r R --threshold=-inf`` (NMS radius R = particle radius in downsampled
   pixels): every local maximum is kept, so a threshold sweep / AP is possible; the
   coordinates are scaled back to original pixels here (as floats, not Topaz's rounding).

Coordinates (verified in topaz 0.3.20's source): ``topaz/mrc.py`` reshapes MRC data to
``(nz, ny, nx)`` like :mod:`mrcfile`; ``algorithms.non_maximum_suppression`` writes
``x = index % shape[1]`` (column) and ``y = index // shape[1]`` (row); training crops are
taken at ``(y_coord, x_coord)`` = (row, column) (``utils/data/memory_mapped_data.py``).
So Topaz's x/y are cryopick's x/y. ``utils/image.downsample`` keeps pixel 0 at pixel 0
and samples every ``n / int(n / s)`` original pixels, so ``x_orig = x_ds * nx / nx_ds``.

Installation facts: ``pip install topaz-em`` would pull a CUDA torch, so the env gets
``torch==2.13.0`` first (a local CPU wheel here), then Topaz's plain dependencies (pinned
below; numpy 2 and pandas 3 work) and ``topaz-em==0.3.20 --no-deps``. Topaz imports
torchvision only for ``rotate``/``hflip``/``vflip`` on tensors, and no CPU torchvision
build is available, so ``benchmarks/_topaz_stub`` (put on ``PYTHONPATH``) supplies those
three with torch ops. ``-d -1`` runs on the CPU. A fresh install takes about 45 s here (1.4 GB).

Timing caveat: on a shared 2-core machine, ``threads=2`` while another process is busy
makes torch's OpenMP threads wait on each other (training 2.5 s/iteration instead of
1.0 s with ``threads=1``; preprocessing up to 40x slower). Compare pickers at equal threads.

    python benchmarks/topaz_runner.py --epochs 1 --epoch-size 20     # smoke check
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
from cryopick.io.atomic import write_text_atomic
from cryopick.io.picks import make_picks

BENCH_DIR = Path(__file__).resolve().parent
STUB_DIR = BENCH_DIR / "_topaz_stub"
TOPAZ_VERSION = "0.3.20"
INSTALL_STEPS: tuple[tuple[str, ...], ...] = (
    ("torch==2.13.0",),
    ("numpy==2.4.6", "scipy==1.17.1", "pandas==3.1.1", "scikit-learn==1.9.1", "h5py==3.16.0",
     "pillow==13.0.0", "psutil==7.2.2", "tqdm==4.70.1", "future==1.0.0", "mrcfile==1.5.4"),
    (f"topaz-em=={TOPAZ_VERSION}", "--no-deps"),
)
TARGET_DIAMETER_PX = 26.0
"""Particle diameter aimed at after downsampling (Topaz's tutorial: about 28 px)."""

_LAUNCHER = """\
import random, sys
import numpy as np, torch
seed = int(sys.argv.pop(1))
random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
_default_rng, _count = np.random.default_rng, [0]
def _seeded_rng(s=None, *args, **kwargs):
    if s is None:
        _count[0] += 1
        s = [seed, _count[0]]
    return _default_rng(s, *args, **kwargs)
np.random.default_rng = _seeded_rng
from topaz.main import main
sys.argv[0] = "topaz"
sys.exit(main())
"""


@dataclass
class TopazResult:
    """Topaz's picks on the test micrographs, with timings and what was run."""

    picks: pd.DataFrame
    train_seconds: float
    pick_seconds: float
    """Wall clock of preprocessing the test micrographs plus ``topaz extract``."""
    preprocess_seconds: float
    """Wall clock of preprocessing train and test micrographs."""
    extract_seconds: float
    epochs: int
    epoch_size: int
    downsample: int
    extract_radius_px: int
    """NMS radius in downsampled pixels."""
    expected_per_micrograph: int
    topaz_version: str = TOPAZ_VERSION
    minibatch_size: int = 256
    commands: list[str] = field(default_factory=list)

    @property
    def seconds_per_iteration(self) -> float:
        """Training wall clock per parameter update (start-up included)."""
        return self.train_seconds / max(1, self.epochs * self.epoch_size)

    def summary(self) -> dict:
        """Everything but the picks, for a JSON report."""
        out = {k: v for k, v in self.__dict__.items() if k != "picks"}
        out["seconds_per_iteration"] = self.seconds_per_iteration
        out["n_picks"] = len(self.picks)
        return out


def ensure_topaz(venv: Path = BENCH_DIR / ".venv-topaz") -> Path:
    """Create (once) a virtual env with Topaz on the CPU; return its python path."""
    venv = Path(venv)
    python = venv / "bin" / "python"
    marker = venv / ".topaz-installed"
    spec = "\n".join(" ".join(step) for step in INSTALL_STEPS)
    if python.exists() and marker.exists() and marker.read_text() == spec:
        return python
    if not python.exists():
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    for step in INSTALL_STEPS:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *step], check=True)
    _topaz(python, ["--version"], env=_env(1), log=None)
    marker.write_text(spec)
    return python


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STUB_DIR), env.get("PYTHONPATH", "")) if p)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    return env


def _topaz(python: Path, args: list[str], *, env: dict[str, str], log: Path | None,
           seed: int = 0) -> float:
    """Run ``topaz ARGS`` in the Topaz env; return its wall-clock seconds."""
    start = time.perf_counter()
    proc = subprocess.run([str(python), "-c", _LAUNCHER, str(seed), *args], check=False,
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if log is not None:
        log.write_text(f"$ topaz {shlex.join(args)}\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    if proc.returncode != 0:
        raise RuntimeError(f"topaz {shlex.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds


def _shape(path: Path) -> tuple[int, int]:
    with mrcfile.mmap(path, permissive=True) as mrc:
        return int(mrc.header.ny), int(mrc.header.nx)


def choose_downsample(diameter_px: float) -> int:
    """The integer factor that brings the particle closest to ~26 px across."""
    return max(1, round(diameter_px / TARGET_DIAMETER_PX))


def run_topaz(train_mics: list[Path], train_labels: pd.DataFrame, test_mics: list[Path], *,
              diameter_px: float, workdir: Path, downsample: int | None = None,
              expected_per_micrograph: int, epochs: int = 10, epoch_size: int = 1000,
              threads: int = 2, seed: int = 0) -> TopazResult:
    """Train Topaz on labelled micrographs and pick the test micrographs.

    Parameters
    ----------
    train_mics, test_mics
        MRC micrographs; names (file stems) must be unique across both lists.
    train_labels
        Picks table (original pixel coordinates) for ``train_mics``.
    diameter_px
        Particle diameter in original pixels: sets the downsampling and the NMS radius.
    workdir
        Where preprocessed images, labels, models, picks and logs go.
    downsample
        Topaz's ``-s``; None: :func:`choose_downsample`.
    expected_per_micrograph
        Topaz's ``-n`` (particles per micrograph).
    epochs, epoch_size
        Topaz's schedule (defaults 10 x 1000 updates of 256 crops).
    threads
        torch / OpenMP threads (``-j`` and the ``*_NUM_THREADS`` variables).
    seed
        Seeds numpy, torch and Topaz's generators through the launcher.

    Returns
    -------
    TopazResult
        Picks of every local maximum (score = Topaz's log-likelihood ratio), original
        pixel coordinates, ``diameter_px`` set; timings; commands.
    """
    python = ensure_topaz()
    train_mics, test_mics = [Path(p) for p in train_mics], [Path(p) for p in test_mics]
    stems = [p.stem for p in train_mics + test_mics]
    if len(set(stems)) != len(stems):
        raise ValueError("micrograph names (file stems) must be unique across train and test")
    scale = int(downsample) if downsample else choose_downsample(diameter_px)
    workdir = Path(workdir)
    dirs = {k: workdir / k for k in ("pre_train", "pre_test", "logs")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env, commands = _env(threads), []

    def run(name: str, args: list[str]) -> float:
        commands.append("topaz " + shlex.join(args))
        return _topaz(python, args, env=env, log=dirs["logs"] / f"{name}.log", seed=seed)

    common = ["-d", "-1", "-j", str(threads)]
    prep = ["preprocess", "-s", str(scale), *common, "-t", "0"]
    t_prep_train = run("preprocess_train", [*prep, "-o", str(dirs["pre_train"]), *map(str, train_mics)])
    t_prep_test = run("preprocess_test", [*prep, "-o", str(dirs["pre_test"]), *map(str, test_mics)])

    # Labels on the downsampled grid (ratio per axis, as topaz's Fourier crop does).
    rows = []
    for mic in train_mics:
        (ny, nx), (my, mx) = _shape(mic), _shape(dirs["pre_train"] / f"{mic.stem}.mrc")
        sel = train_labels[train_labels["micrograph"] == mic.stem]
        rows.append(pd.DataFrame({"image_name": mic.stem,
                                  "x_coord": np.round(sel["x"].to_numpy() * mx / nx).astype(int),
                                  "y_coord": np.round(sel["y"].to_numpy() * my / ny).astype(int)}))
    targets = workdir / "train_targets.txt"
    write_text_atomic(targets, pd.concat(rows).to_csv(sep="\t", index=False))

    model_prefix = workdir / "model"
    train_seconds = run("train", [
        "train", *common, "--num-workers", "0", "--train-images", str(dirs["pre_train"]),
        "--train-targets", str(targets), "--format", "coord", "--image-ext", ".mrc",
        "-n", str(int(expected_per_micrograph)), "--num-epochs", str(epochs),
        "--epoch-size", str(epoch_size), "--save-prefix", str(model_prefix),
        "-o", str(workdir / "train_curve.txt")])
    digits = int(np.ceil(np.log10(epochs)))  # topaz's own naming, training.py
    model = Path(f"{model_prefix}_epoch{epochs:0{digits}d}.sav")

    radius = max(1, round(diameter_px / 2 / scale))
    out = workdir / "extracted.txt"
    pre_test = [str(dirs["pre_test"] / f"{m.stem}.mrc") for m in test_mics]
    t_extract = run("extract", ["extract", *common, "-m", str(model), "-r", str(radius),
                                "--threshold=-inf", "-o", str(out), *pre_test])

    table = pd.read_csv(out, sep="\t", dtype={"image_name": str})
    parts = []
    for mic in test_mics:
        (ny, nx), (my, mx) = _shape(mic), _shape(dirs["pre_test"] / f"{mic.stem}.mrc")
        sel = table[table["image_name"] == mic.stem]
        parts.append(make_picks(mic.stem, sel["x_coord"].to_numpy() * nx / mx,
                                sel["y_coord"].to_numpy() * ny / my, sel["score"].to_numpy(),
                                diameter_px))
    picks = pd.concat(parts, ignore_index=True) if parts else make_picks([], [], [])
    return TopazResult(
        picks=picks, train_seconds=train_seconds, pick_seconds=t_prep_test + t_extract,
        preprocess_seconds=t_prep_train + t_prep_test, extract_seconds=t_extract,
        epochs=epochs, epoch_size=epoch_size, downsample=scale, extract_radius_px=radius,
        expected_per_micrograph=int(expected_per_micrograph), commands=commands)


def _smoke(argv: list[str] | None = None) -> None:
    from cryopick.evaluation.metrics import evaluate
    from cryopick.io.coords import read_coords
    from cryopick.simulate import SimulationConfig, simulate_dataset

    parser = argparse.ArgumentParser(description="Smoke check: Topaz on 4 simulated micrographs.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/topaz_runner_smoke"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--epoch-size", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--apix", type=float, default=2.0,
                        help="pixel size of the simulation (2 Å/px: ~58 px particles, downsample 2)")
    args = parser.parse_args(argv)

    sim = args.workdir / "sim"
    # Non-square (768 rows x 1024 columns) so that a transposition would show.
    simulate_dataset(sim, SimulationConfig(n_micrographs=4, shape=(768, 1024), apix=args.apix, seed=0))
    mics = sorted((sim / "micrographs").glob("*.mrc"))
    truth = read_coords(sim / "truth.star")
    labels = read_coords(sim / "labels.star")
    train, test = mics[:3], mics[3:]
    train_names = {m.stem for m in train}
    diameter = float(truth["diameter_px"].iloc[0])
    n_mean = round(truth[truth["micrograph"].isin(train_names)].groupby("micrograph").size().mean())
    result = run_topaz(train, labels[labels["micrograph"].isin(train_names)], test,
                       diameter_px=diameter, workdir=args.workdir / f"run_e{args.epochs}_s{args.epoch_size}",
                       expected_per_micrograph=n_mean, epochs=args.epochs,
                       epoch_size=args.epoch_size, threads=args.threads)
    test_truth = truth[truth["micrograph"].isin({m.stem for m in test})]
    ev = evaluate(result.picks, test_truth, radius_px=diameter / 2)
    top = result.picks.nlargest(len(test_truth), "score")
    ev_top = evaluate(top, test_truth, radius_px=diameter / 2)
    for key, value in result.summary().items():
        print(f"{key}: {value}")
    print(f"diameter_px {diameter:.1f}, truth {len(test_truth)}, picks {len(result.picks)}")
    print(f"AP {ev.average_precision:.3f}, best F1 {ev.best_f1:.3f}; "
          f"top-{len(test_truth)} picks F1 {ev_top.f1:.3f}")


if __name__ == "__main__":
    _smoke(sys.argv[1:])
