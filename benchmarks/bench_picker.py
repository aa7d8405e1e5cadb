"""The picker that wins? cryopick's FCN beside LoG, the report's CNN and Topaz, from sparse, partly wrong labels.

For each simulated structure: ``--n-train`` training and ``--n-test`` test micrographs;
``--label-fraction`` of the training particles are labelled and ``--wrong-label-fraction``
of those labels are wrong (on junk or empty background). Every trainable picker gets the
same labels and is scored on the same test micrographs against the full truth:

* **cryopick FCN**: `cryopick train` defaults (positive-unlabeled, prior estimated,
  label cleaning, early stopping); threshold: the model's (0.5);
* **LoG**: no training; its automatic cut (robust z 2.5);
* **report CNN**: the report's VGG-style patch classifier, scheme (a), trained on the
  same sparse labels (negatives drawn from everything at least 0.3 d from a label, as the
  report does, so unlabelled particles become negatives); threshold 0.8;
* **Topaz** 0.3.20 on the CPU in its own virtual env (``topaz_runner.py``), told the true
  mean number of particles per micrograph (``-n``), at a shortened schedule
  (``--topaz-epochs`` x ``--topaz-epoch-size`` iterations; its default is 10 x 1000);
  threshold: its default -6 (log-likelihood ratio).

P/R/F1 at each picker's own threshold, best F1 over thresholds (an oracle), AP over all
candidates; train seconds (reading and preprocessing included) and pick seconds per test
micrograph (reading included). Prints a table, writes JSON.

    python benchmarks/bench_picker.py                      # full (about 40 minutes on 2 cores)
    python benchmarks/bench_picker.py --pickers fcn log     # without the slow ones
    python benchmarks/bench_picker.py --quick               # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import RESULTS, write_report
from _picking import (
    Split,
    cleaning_stats,
    pick_cryopick,
    pick_log_test,
    score,
    set_threads,
    simulate_split,
    train_cryopick,
)

from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.io.micrographs import read_micrograph
from cryopick.pickers.log import LoGConfig

TOPAZ_DEFAULT_THRESHOLD = -6.0
REPORT_THRESHOLD = 0.8


def run_fcn(split: Split, args: argparse.Namespace, workdir: Path) -> dict:
    seed = args.seed if args.train_seed is None else args.train_seed
    config = FCNTrainConfig(seed=seed, **({"max_epochs": args.max_epochs} if args.max_epochs else {}))
    loaded, result, train_s = train_cryopick(split, config, workdir / f"{split.structure}_fcn.cryopick")
    picks, pick_s = pick_cryopick(split, loaded)
    return {"picker": "cryopick FCN", **score(picks, split.truth_test, split.radius_px, loaded.threshold),
            "threshold": loaded.threshold, "train_s": round(train_s, 1), "pick_s_per_micrograph": round(pick_s, 3),
            "train_seed": seed, "epochs": len(result.history), **cleaning_stats(split, result)}


def run_log(split: Split, args: argparse.Namespace, workdir: Path) -> dict:
    picks, pick_s = pick_log_test(split)
    cut = LoGConfig().auto_threshold
    return {"picker": "LoG (no training)", **score(picks, split.truth_test, split.radius_px, cut), "threshold": cut,
            "train_s": 0.0, "pick_s_per_micrograph": round(pick_s, 3)}


def run_report_cnn(split: Split, args: argparse.Namespace, workdir: Path) -> dict:
    from dataclasses import asdict

    from cryopick.models.checkpoint import load_model, save_model
    from cryopick.pickers.patch.patches import PatchConfig
    from cryopick.pickers.patch.sampling import build_patch_set
    from cryopick.pickers.patch.sliding_window import SlidingWindowConfig, pick_sliding_window
    from cryopick.pickers.patch.train import PatchTrainConfig, train_classifier

    patch_config = PatchConfig(scheme="a", seed=args.seed)
    start = time.perf_counter()
    patches = build_patch_set((read_micrograph(p) for p in split.train_paths), split.labels, split.diameter_A,
                              patch_config)
    result = train_classifier(patches, PatchTrainConfig(model="cnn", epochs=args.report_epochs, seed=args.seed,
                                                        device="cpu"))
    train_s = time.perf_counter() - start
    model_file = workdir / f"{split.structure}_cnn.cryopick"
    save_model(model_file, result.model, kind="cnn", arch=result.arch, patch_config=asdict(patch_config),
               diameter_A=split.diameter_A, training=result.summary())
    loaded = load_model(model_file)
    start = time.perf_counter()
    picks = pd.concat([pick_sliding_window(read_micrograph(p), loaded, None, SlidingWindowConfig(threshold=0.0))
                       for p in split.test_paths])
    pick_s = (time.perf_counter() - start) / len(split.test_paths)
    return {"picker": f"report CNN ({args.report_epochs} epochs)",
            **score(picks, split.truth_test, split.radius_px, REPORT_THRESHOLD), "threshold": REPORT_THRESHOLD,
            "train_s": round(train_s, 1), "pick_s_per_micrograph": round(pick_s, 3)}


def run_topaz(split: Split, args: argparse.Namespace, workdir: Path) -> dict:
    import topaz_runner

    expected = round(len(split.truth_train) / len(split.train_paths))
    result = topaz_runner.run_topaz(
        split.train_paths, split.labels, split.test_paths, diameter_px=2 * split.radius_px,
        workdir=workdir / f"{split.structure}_topaz", expected_per_micrograph=expected,
        epochs=args.topaz_epochs, epoch_size=args.topaz_epoch_size, threads=args.threads, seed=args.seed,
    )
    n_test = len(split.test_paths)
    return {"picker": f"Topaz {result.topaz_version} ({args.topaz_epochs}x{args.topaz_epoch_size} iterations)",
            **score(result.picks, split.truth_test, split.radius_px, TOPAZ_DEFAULT_THRESHOLD),
            "threshold": TOPAZ_DEFAULT_THRESHOLD,
            "train_s": round(result.train_seconds + result.preprocess_seconds - _test_preprocess(result), 1),
            "pick_s_per_micrograph": round(result.pick_seconds / n_test, 3),
            "topaz_seconds_per_iteration": round(result.seconds_per_iteration, 2), "topaz_n": expected}


def _test_preprocess(result) -> float:
    """The part of Topaz's preprocessing time spent on test micrographs (counted in picking)."""
    return max(0.0, result.pick_seconds - result.extract_seconds)


PICKERS = {"fcn": run_fcn, "log": run_log, "cnn": run_report_cnn, "topaz": run_topaz}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["globular", "ring7", "dumbbell"])
    parser.add_argument("--pickers", nargs="+", default=["fcn", "log", "cnn", "topaz"], choices=list(PICKERS))
    parser.add_argument("--n-train", type=int, default=6)
    parser.add_argument("--n-test", type=int, default=4)
    parser.add_argument("--size", type=int, default=1536, help="micrograph side, px")
    parser.add_argument("--apix", type=float, default=2.5, help="Å/px")
    parser.add_argument("--snr", type=float, default=None,
                        help="per-pixel SNR (see docs/simulator.md); default: the noise of 40 e/Å^2")
    parser.add_argument("--label-fraction", type=float, default=0.2)
    parser.add_argument("--wrong-label-fraction", type=float, default=0.2)
    parser.add_argument("--max-epochs", type=int, default=None, help="FCN: most epochs per round (default 40)")
    parser.add_argument("--report-epochs", type=int, default=100)
    parser.add_argument("--topaz-epochs", type=int, default=4)
    parser.add_argument("--topaz-epoch-size", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every picker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train-seed", type=int, default=None,
                        help="FCN training seed, same data (default: --seed)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and models here")
    parser.add_argument("--json", type=Path, default=RESULTS / "picker.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_train, args.n_test, args.size = args.structures[:1], 2, 1, 768
        args.apix, args.max_epochs, args.report_epochs = 4.0, 2, 2
        args.pickers = [p for p in args.pickers if p != "topaz"]
    set_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="cryopick-picker-") as tmp:
        workdir = args.workdir or Path(tmp)
        for structure in args.structures:
            split = simulate_split(workdir / structure, structure, n_train=args.n_train, n_test=args.n_test,
                                   size=args.size, apix=args.apix, snr=args.snr, label_fraction=args.label_fraction,
                                   wrong_label_fraction=args.wrong_label_fraction, seed=args.seed)
            for name in args.pickers:
                row = {"structure": structure, "diameter_A": split.diameter_A, **split.label_stats(),
                       **PICKERS[name](split, args, workdir)}
                rows.append(row)
                print(pd.DataFrame([row]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    print(table[["structure", "picker", "precision", "recall", "f1", "best_f1", "average_precision", "train_s",
                 "pick_s_per_micrograph"]].to_string(index=False))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return write_report(args.json, {"benchmark": "picker", "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
