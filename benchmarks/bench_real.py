"""Accuracy on real micrographs from few labels: cryopick's defaults beside LoG, the report's CNN and Topaz.

For each real labelled set in ``../shared/data/real-labelled/`` (see its README):

* the first 4 micrographs by name train, with a seeded random 20% of their labels
  (``--label-fraction``; seed ``--seed``); the other micrographs are picked and scored
  against ALL their labels, one-to-one within half a particle diameter;
* rows: **cryopick** (`cryopick train` with default settings, run as a user runs it, then
  every candidate of the trained model, judged at the model's own threshold), the
  **LoG** picker (no training, its automatic cut), the **report CNN** (the report's
  VGG-style patch classifier, ``--cnn-epochs``), and **Topaz** 0.3.20
  (``topaz_runner.py``: the same labels, the same test micrographs and cores, told the
  true mean particle count per micrograph, ``--topaz-epochs`` x ``--topaz-epoch-size``
  iterations; its default schedule is 10 x 1000);
* columns: precision, recall, F1 at the picker's own threshold (Topaz: score 0, even odds
  of its log-likelihood ratio), recall of each picker's strongest N candidates with N the
  number cryopick kept (recall at equal pick counts), AP, best F1 over
  thresholds, training seconds, picking seconds per micrograph (reading included).

The micrographs are PNG without a pixel size: the README's pixel sizes are passed as
``--apix`` and the diameters are the README's (in pixels, times the pixel size).

    python benchmarks/bench_real.py                       # all sets, all pickers
    python benchmarks/bench_real.py --sets apoferritin --pickers cryopick log
    python benchmarks/bench_real.py --quick               # smoke run (2 training micrographs, 1 test)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, write_report  # noqa: E402

from cryopick.evaluation.metrics import evaluate  # noqa: E402
from cryopick.io.micrographs import read_micrograph  # noqa: E402
from cryopick.io.picks import make_picks  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-labelled"


@dataclass(frozen=True)
class RealSet:
    """One real labelled set: its folder, pixel size and particle diameter (README figures)."""

    name: str
    folder: str
    apix: float
    diameter_px: float
    complete_labels: bool

    @property
    def diameter_A(self) -> float:
        return self.apix * self.diameter_px


SETS = {
    "apoferritin": RealSet("apoferritin", "empiar10146-apoferritin", 2.0, 60.0, True),
    "trpv1": RealSet("trpv1", "empiar10059-trpv1", 3.7, 35.0, True),
    "ribosome": RealSet("ribosome", "empiar10028-ribosome80s", 5.4, 56.0, False),
}


@dataclass
class Split:
    """A set's micrographs and labels, split into training (a fraction of labels) and test (all labels)."""

    real: RealSet
    train_paths: list[Path]
    test_paths: list[Path]
    train_labels: pd.DataFrame
    test_truth: pd.DataFrame
    n_train_labels_all: int


def load_split(real: RealSet, n_train: int, fraction: float, seed: int, n_test: int | None = None) -> Split:
    """The first ``n_train`` micrographs by name train with ``fraction`` of their labels; the rest test."""
    folder = SHARED / real.folder
    paths = sorted((folder / "micrographs").glob("*.png"))
    labels = pd.read_csv(folder / "particles.csv", dtype={"micrograph": str})
    table = make_picks(labels["micrograph"].to_numpy(), labels["x"].to_numpy(float), labels["y"].to_numpy(float),
                       None, real.diameter_px)
    train_paths, test_paths = paths[:n_train], paths[n_train:][:n_test]
    train_all = table[table["micrograph"].isin([p.stem for p in train_paths])]
    rng = np.random.default_rng(seed)
    keep = rng.random(len(train_all)) < fraction
    return Split(real, train_paths, test_paths, train_all.loc[keep].reset_index(drop=True),
                 table[table["micrograph"].isin([p.stem for p in test_paths])].reset_index(drop=True), len(train_all))


def _scores(picks: pd.DataFrame, split: Split, threshold: float) -> dict:
    e = evaluate(picks, split.test_truth, split.real.diameter_px / 2.0, threshold=threshold)
    n_picked = int((picks["score"] >= threshold).sum())
    return {"precision": round(e.precision, 3), "recall": round(e.recall, 3), "f1": round(e.f1, 3),
            "average_precision": round(e.average_precision, 3), "best_f1": round(e.best_f1, 3),
            "n_picked": n_picked, "n_truth": len(split.test_truth)}


def _timed_picks(split: Split, pick_one) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    picks = pd.concat([pick_one(read_micrograph(p, split.real.apix)) for p in split.test_paths], ignore_index=True)
    return picks, (time.perf_counter() - start) / len(split.test_paths)


def _train(split: Split, work: Path, model: Path, options: list[str]) -> tuple[float, str]:
    """`cryopick train` on the split's training labels, as a user runs it; returns (seconds, its log)."""
    labels = work / "labels.csv"
    split.train_labels.to_csv(labels, index=False)
    command = [str(Path(sys.executable).parent / "cryopick"), "train", *map(str, split.train_paths),
               "--coords", str(labels), "--diameter", f"{split.real.diameter_A:g}", "--apix", f"{split.real.apix:g}",
               "-o", str(model), *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:3])} {' '.join(options)} failed:\n{done.stderr[-3000:]}")
    (work / f"{model.stem}.log").write_text(done.stderr)
    return seconds, done.stderr


def run_cryopick(split: Split, work: Path, args: argparse.Namespace) -> dict:
    """`cryopick train` with its defaults (as a user runs it), then every candidate of the model."""
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn

    model = work / "model.cryopick"
    train_s, log = _train(split, work, model, ["--seed", str(args.seed), *args.train_extra])
    loaded = load_model(model)
    picks, pick_s = _timed_picks(split, lambda mic: pick_fcn(mic, loaded, None, FCNPickConfig(threshold=0.0)))
    estimate = loaded.training.get("n_particles_estimate")
    return {"picker": "cryopick (defaults)", **_scores(picks, split, loaded.threshold),
            "threshold": round(loaded.threshold, 3), "train_s": round(train_s, 1), "pick_s_per_micrograph":
            round(pick_s, 2), "particle_count_estimate": None if estimate is None else round(float(estimate)),
            "train_particles_labelled": split.n_train_labels_all, "log_tail": log.strip().splitlines()[-1:],
            "_picks": picks}


def run_log(split: Split, work: Path, args: argparse.Namespace) -> dict:
    from cryopick.pickers.log import KEEP_ALL, LoGConfig, pick_log

    picks, pick_s = _timed_picks(split, lambda mic: pick_log(mic, split.real.diameter_A, LoGConfig(threshold=KEEP_ALL)))
    return {"picker": "LoG (no training)", **_scores(picks, split, LoGConfig().auto_threshold), "train_s": 0.0,
            "pick_s_per_micrograph": round(pick_s, 2), "_picks": picks}


def run_report_cnn(split: Split, work: Path, args: argparse.Namespace) -> dict:
    from cryopick.models.checkpoint import load_model
    from cryopick.pickers.patch.sliding_window import SlidingWindowConfig, pick_sliding_window

    model = work / "cnn.cryopick"
    train_s, _ = _train(split, work, model, ["--model", "cnn", "--epochs", str(args.cnn_epochs), "--seed", str(args.seed)])
    loaded = load_model(model)
    picks, pick_s = _timed_picks(split, lambda mic: pick_sliding_window(mic, loaded, None,
                                                                         SlidingWindowConfig(threshold=0.0)))
    return {"picker": f"report CNN ({args.cnn_epochs} epochs)", **_scores(picks, split, loaded.threshold),
            "train_s": round(train_s, 1), "pick_s_per_micrograph": round(pick_s, 2), "_picks": picks}


def run_topaz(split: Split, work: Path, args: argparse.Namespace) -> dict:
    import topaz_runner

    from cryopick.io.micrographs import write_mrc

    mrcs = {}
    for path in split.train_paths + split.test_paths:  # Topaz reads MRC
        mrcs[path] = work / "mrc" / f"{path.stem}.mrc"
        mrcs[path].parent.mkdir(parents=True, exist_ok=True)
        write_mrc(mrcs[path], read_micrograph(path, split.real.apix).data, split.real.apix)
    expected = round(split.n_train_labels_all / len(split.train_paths))
    result = topaz_runner.run_topaz(
        [mrcs[p] for p in split.train_paths], split.train_labels, [mrcs[p] for p in split.test_paths],
        diameter_px=split.real.diameter_px, workdir=work / "topaz", expected_per_micrograph=expected,
        epochs=args.topaz_epochs, epoch_size=args.topaz_epoch_size, threads=args.threads, seed=args.seed)
    return {"picker": f"Topaz 0.3.20 ({args.topaz_epochs}x{args.topaz_epoch_size} iterations)",
            **_scores(result.picks, split, 0.0), "threshold": 0.0, "train_s": round(result.train_seconds, 1),
            "pick_s_per_micrograph": round(result.pick_seconds / len(split.test_paths), 2), "topaz_n": expected,
            "_picks": result.picks}


PICKERS = {"cryopick": run_cryopick, "log": run_log, "cnn": run_report_cnn, "topaz": run_topaz}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--pickers", nargs="+", default=list(PICKERS), choices=list(PICKERS))
    parser.add_argument("--n-train", type=int, default=4)
    parser.add_argument("--label-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cnn-epochs", type=int, default=30)
    parser.add_argument("--topaz-epochs", type=int, default=4)
    parser.add_argument("--topaz-epoch-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-extra", nargs=argparse.REMAINDER, default=[],
                        help="further `cryopick train` options (ablations), e.g. --train-extra --epochs 10")
    parser.add_argument("--quick", action="store_true", help="2 training micrographs, 1 test, few epochs")
    parser.add_argument("--overlays", type=Path, default=None, help="write an overlay PNG per set and picker here")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is not here: the real labelled sets come with ../shared (CI and developers)")
    n_test = None
    if args.quick:
        args.n_train, n_test, args.cnn_epochs = 2, 1, 2
        args.train_extra = [*args.train_extra, "--epochs", "2"]
        args.pickers = [p for p in args.pickers if p != "topaz"]
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets:
            split = load_split(SETS[name], args.n_train, args.label_fraction, args.seed, n_test)
            candidates = {}
            for picker in args.pickers:
                work = Path(tmp) / name / picker
                work.mkdir(parents=True)
                row = {"set": name, **PICKERS[picker](split, work, args)}
                picks = row.pop("_picks")
                candidates[row["picker"]] = picks
                if args.overlays is not None:
                    _overlay(split, picks, row, args.overlays / f"real_{name}_{picker}.png")
                rows.append(row)
                print(_line(row), flush=True)
            _recall_at_equal_counts([r for r in rows if r["set"] == name], candidates, split)
    settings = {"n_train": args.n_train, "label_fraction": args.label_fraction, "seed": args.seed,
                "cnn_epochs": args.cnn_epochs, "topaz_schedule": f"{args.topaz_epochs}x{args.topaz_epoch_size}",
                "threads": args.threads, "train_extra": args.train_extra, "quick": args.quick,
                "match_radius": "half the particle diameter"}
    out = args.json or RESULTS / "real.json"
    return write_report(out, {"benchmark": "real", "command": "python benchmarks/bench_real.py "
                              + " ".join(argv if argv is not None else sys.argv[1:]), "settings": settings,
                              "rows": rows})


def _recall_at_equal_counts(rows: list[dict], candidates: dict[str, pd.DataFrame], split: Split) -> None:
    """Each row's recall from its top N candidates, N = the picks cryopick kept: recall at equal pick counts."""
    mine = next((r for r in rows if r["picker"].startswith("cryopick")), None)
    if mine is None:
        return
    n = mine["n_picked"]
    for row in rows:
        top = candidates[row["picker"]].sort_values("score", ascending=False, kind="stable").head(n)
        e = evaluate(top, split.test_truth, split.real.diameter_px / 2.0)
        row["recall_at_cryopick_count"] = round(e.recall, 3) if len(top) else 0.0


def _line(row: dict) -> str:
    return (f"{row['set']:<12} {row['picker']:<34} P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f} "
            f"AP {row['average_precision']:.3f} bestF1 {row['best_f1']:.3f} train {row['train_s']:>7.1f} s "
            f"pick {row['pick_s_per_micrograph']:.2f} s/mic")


def _overlay(split: Split, picks: pd.DataFrame, row: dict, out: Path) -> None:
    """True, false and missed picks on the first test micrograph, at the picker's threshold."""
    from cryopick.reports.figures import plot_overlay

    path = split.test_paths[0]
    threshold = row.get("threshold") if isinstance(row.get("threshold"), float) else None
    mine = picks[picks["micrograph"] == path.stem]
    if threshold is not None:
        mine = mine[mine["score"] >= threshold]
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_overlay(read_micrograph(path, split.real.apix).data, out, mine,
                 truth=split.test_truth[split.test_truth["micrograph"] == path.stem],
                 diameter_px=split.real.diameter_px, radius_px=split.real.diameter_px / 2.0,
                 title=f"{split.real.name}: {row['picker']} (F1 {row['f1']:.3f})")


if __name__ == "__main__":
    main()
