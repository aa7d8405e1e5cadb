"""The report's pipeline, reproduced and measured: MLP and VGG-style CNN patch classifiers.

For each of two simulated datasets of different structures, trains both models the
report's way (64x64 crops; the MLP with scheme (a) rotations and with scheme (b)
offsets, the CNN with scheme (a); SGD lr 0.001 with decay 1e-4 per update, momentum
0.9, batch 128) on the training micrographs, picks the held-out micrographs by
sliding window (stride box/5), and evaluates against truth: precision, recall and F1 at
the report's threshold 0.8 and at the best threshold, and average precision. The LoG
picker runs on the same held-out micrographs for comparison. Prints a table, writes JSON.

    python benchmarks/bench_report_baseline.py                  # full: 100 epochs each
    python benchmarks/bench_report_baseline.py --cnn-epochs 30  # shorter CNN schedule
    python benchmarks/bench_report_baseline.py --quick          # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report

from cryopick.evaluation.metrics import evaluate
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import read_micrograph
from cryopick.pickers.log import KEEP_ALL, LoGConfig, pick_log
from cryopick.models.checkpoint import load_model, save_model
from cryopick.pickers.patch.patches import PatchConfig
from cryopick.pickers.patch.sampling import build_patch_set
from cryopick.simulate import SimulationConfig, simulate_dataset
from cryopick.simulate.structures import load_structure
from cryopick.pickers.patch.sliding_window import SlidingWindowConfig, pick_sliding_window
from cryopick.pickers.patch.train import PatchTrainConfig, train_classifier

REPORT_THRESHOLD = 0.8


def simulate(out: Path, structure: str, args: argparse.Namespace) -> Path:
    config = SimulationConfig.with_presets(
        crowding="normal",
        junk="some",
        n_micrographs=args.n_train + args.n_test,
        shape=(args.size, args.size),
        apix=args.apix,
        structures=(structure,),
        seed=args.seed,
    )
    simulate_dataset(out, config)
    return out


def score(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float, threshold: float) -> dict:
    at_cut = evaluate(picks, truth, radius_px, threshold=threshold)
    return {
        "precision": round(at_cut.precision, 3),
        "recall": round(at_cut.recall, 3),
        "f1": round(at_cut.f1, 3),
        "best_f1": round(at_cut.best_f1, 3),
        "best_threshold": round(at_cut.best_threshold, 3),
        "average_precision": round(at_cut.average_precision, 3),
    }


def run_dataset(structure: str, args: argparse.Namespace, workdir: Path) -> list[dict]:
    data = simulate(workdir / structure, structure, args)
    paths = sorted((data / "micrographs").glob("*.mrc"))
    train_paths, test_paths = paths[: args.n_train], paths[args.n_train :]
    truth = read_coords(data / "truth.star")
    test_names = {p.stem for p in test_paths}
    test_truth = truth.loc[truth["micrograph"].isin(test_names)].reset_index(drop=True)
    labels = truth.loc[~truth["micrograph"].isin(test_names)].reset_index(drop=True)
    diameter_A = load_structure(structure).diameter_A
    radius_px = diameter_A / args.apix / 2.0
    test_mics = [read_micrograph(p) for p in test_paths]
    rows = []

    start = time.perf_counter()
    log_picks = pd.concat([pick_log(m, diameter_A, LoGConfig(threshold=KEEP_ALL)) for m in test_mics])
    log_s = (time.perf_counter() - start) / len(test_mics)
    log_row = score(log_picks, test_truth, radius_px, LoGConfig().auto_threshold)
    rows.append({"dataset": structure, "picker": "LoG (no training)", "val_accuracy": None, **log_row,
                 "threshold": LoGConfig().auto_threshold, "train_s": 0.0, "pick_s_per_micrograph": round(log_s, 3)})

    for variant in args.variants:
        kind, scheme = variant.split(":")
        epochs = args.mlp_epochs if kind == "mlp" else args.cnn_epochs
        patch_config = PatchConfig(scheme=scheme, seed=args.seed)
        start = time.perf_counter()
        patches = build_patch_set((read_micrograph(p) for p in train_paths), labels, diameter_A, patch_config)
        result = train_classifier(patches, PatchTrainConfig(model=kind, epochs=epochs, seed=args.seed, device="cpu"))
        train_s = time.perf_counter() - start
        model_file = workdir / f"{structure}_{kind}_{scheme}.cryopick"
        save_model(model_file, result.model, kind=kind, arch=result.arch, patch_config=asdict(patch_config),
                   diameter_A=diameter_A, training=result.summary())
        loaded = load_model(model_file)
        start = time.perf_counter()
        picks = pd.concat([pick_sliding_window(m, loaded, None, SlidingWindowConfig(threshold=0.0)) for m in test_mics])
        pick_s = (time.perf_counter() - start) / len(test_mics)
        rows.append({
            "dataset": structure,
            "picker": f"report {kind.upper()}, scheme ({scheme}), {epochs} epochs",
            "val_accuracy": round(result.history[-1].val_accuracy, 3),
            **score(picks, test_truth, radius_px, REPORT_THRESHOLD),
            "threshold": REPORT_THRESHOLD,
            "train_s": round(train_s, 1),
            "pick_s_per_micrograph": round(pick_s, 3),
            "n_train_examples": int(result.n_train),
        })
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["globular", "ring7"])
    parser.add_argument("--n-train", type=int, default=6, help="training micrographs per dataset")
    parser.add_argument("--n-test", type=int, default=4, help="held-out micrographs per dataset")
    parser.add_argument("--size", type=int, default=1536, help="micrograph side, px")
    parser.add_argument("--apix", type=float, default=2.5, help="pixel size, Å/px")
    parser.add_argument("--variants", nargs="+", default=["mlp:a", "mlp:b", "cnn:a"],
                        help="model:scheme pairs to train (scheme a = rotations, b = offsets)")
    parser.add_argument("--mlp-epochs", type=int, default=100)
    parser.add_argument("--cnn-epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=RESULTS / "report_baseline.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_train, args.n_test, args.size = args.structures[:1], 2, 1, 768
        args.mlp_epochs, args.cnn_epochs, args.variants = 3, 2, ["mlp:a", "cnn:a"]
    with tempfile.TemporaryDirectory(prefix="cryopick-report-") as tmp:
        rows = [row for structure in args.structures for row in run_dataset(structure, args, Path(tmp))]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    report = {
        "benchmark": "report_baseline",
        "command": "python benchmarks/bench_report_baseline.py " + " ".join(argv or sys.argv[1:]),
        "settings": {k: v for k, v in vars(args).items() if k != "json"},
        "report_figures": {"mlp_val_accuracy": 0.955, "cnn_val_accuracy": 0.965,
                           "mlp_precision_recall_at_0.8": [0.3, 0.4], "best_precision_recall": [0.5, 0.67]},
        "rows": rows,
    }
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
