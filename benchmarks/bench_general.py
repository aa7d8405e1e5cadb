"""The general model (issue 5): picking with no labels, and fine-tuning from one or two micrographs.

For each test structure (none of them in the general model's training set, see
docs/general_model.md), simulates ``--n-train`` training and ``--n-test`` test
micrographs as `bench_picker.py` does (``--label-fraction`` of the particles labelled,
``--wrong-label-fraction`` of the labels wrong) and scores, on the same test micrographs:

* ``general``: the bundled general model with no labels at all (`cryopick pick --diameter D`);
* ``scratch-6``: the FCN trained from scratch on all ``--n-train`` micrographs (`cryopick train`);
* ``tuned-1`` / ``tuned-2``: the general model fine-tuned on the first 1 / 2 of them
  (`cryopick train --init general`);
* ``scratch-2``: trained from scratch on the same 2, for comparison.

P/R/F1 at each model's own threshold, best F1 over thresholds and AP over all candidates,
and training seconds (reading included). Also what `cryopick pick` would say from the
test micrographs' scores alone (:mod:`cryopick.postprocess.score_summary`): the expected number of
particles against the true one, and the F1 at its suggested threshold. Prints a table,
writes JSON.

    python benchmarks/bench_general.py              # full run (~15 min on 2 cores)
    python benchmarks/bench_general.py --quick      # smoke run (CI runs this)
    python benchmarks/bench_general.py --model FILE # another general model (e.g. a retrained one)
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
from _common import RESULTS, write_report
from _picking import Split, add_split_options, pick_cryopick, score, set_threads, simulate_split, train_cryopick

from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.pickers.fcn.general import general_model_path
from cryopick.models.checkpoint import LoadedModel, load_model
from cryopick.postprocess.score_summary import summarise_scores

SETUPS = ("general", "scratch-6", "tuned-1", "tuned-2", "scratch-2")


def _train(split: Split, n_mics: int, config: FCNTrainConfig, out: Path, initial=None) -> tuple[LoadedModel, dict]:
    loaded, result, seconds = train_cryopick(split, config, out, n_mics=n_mics, initial=initial)
    n_labels = int(split.labels["micrograph"].isin({p.stem for p in split.train_paths[:n_mics]}).sum())
    return loaded, {"train_s": round(seconds, 1), "n_labels": n_labels, "epochs": len(result.history)}


def run(structure: str, args: argparse.Namespace, workdir: Path, general: LoadedModel) -> list[dict]:
    split = simulate_split(workdir / structure, structure, n_train=args.n_train, n_test=args.n_test, size=args.size,
                           apix=args.apix, snr=None, label_fraction=args.label_fraction,
                           wrong_label_fraction=args.wrong_label_fraction, seed=args.seed)
    config = FCNTrainConfig(seed=args.seed, **({"max_epochs": args.max_epochs} if args.max_epochs else {}))
    rows = []
    for setup in args.setups:
        facts: dict = {"train_s": 0.0, "n_labels": 0}
        if setup == "general":
            loaded = replace(general, diameter_A=split.diameter_A)
        else:
            kind, n = setup.split("-")
            n_mics = args.n_train if setup == "scratch-6" else int(n)
            initial = general.model if kind == "tuned" else None
            tuned = replace(config, default_threshold=general.threshold) if initial is not None else config
            loaded, facts = _train(split, n_mics, tuned, workdir / f"{structure}_{setup}.cryopick", initial)
        picks, pick_s = pick_cryopick(split, loaded)
        summary = summarise_scores(picks, loaded.threshold)
        suggested = float(summary.suggested_threshold)
        row = {"structure": structure, "setup": setup, **facts, "threshold": round(loaded.threshold, 3),
               **score(picks, split.truth_test, split.radius_px, loaded.threshold), "pick_s": round(pick_s, 2),
               "expected_particles": round(float(summary.expected_particles), 1),
               "true_particles": len(split.truth_test), "suggested_threshold": round(suggested, 3),
               "f1_at_suggested": score(picks, split.truth_test, split.radius_px, suggested)["f1"]}
        rows.append(row)
        print(f"{structure:>9} {setup:>10}: F1 {row['f1']:.3f} (P {row['precision']:.3f} R {row['recall']:.3f}), "
              f"best F1 {row['best_f1']:.3f}, AP {row['average_precision']:.3f}; {row['n_labels']} labels, "
              f"{row['train_s']:.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_options(parser, seed=1, json=RESULTS / "general.json")
    parser.add_argument("--model", type=Path, default=None, help="general model file (default: the bundled one)")
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_train, args.n_test, args.size, args.max_epochs = args.structures[:1], 2, 1, 768, 2
        args.apix, args.setups = 4.0, ["general", "tuned-1"]
    set_threads(args.threads)
    general = load_model(args.model or general_model_path())
    with tempfile.TemporaryDirectory(prefix="cryopick-general-") as tmp:
        workdir = args.workdir or Path(tmp)
        rows = [row for structure in args.structures for row in run(structure, args, workdir, general)]
    print(pd.DataFrame(rows)[["structure", "setup", "n_labels", "precision", "recall", "f1", "best_f1",
                              "average_precision", "train_s", "expected_particles", "true_particles",
                              "f1_at_suggested"]].to_string(index=False))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return write_report(args.json, {"benchmark": "general", "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
