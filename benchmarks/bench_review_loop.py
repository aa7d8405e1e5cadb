"""The person in the loop: review the general model's picks on two micrographs, fine-tune on them.

What `cryopick review` is for, with a simulated person who reviews perfectly. For each
test structure (none in the general model's training set), simulates ``--n-review``
micrographs to review and ``--n-test`` to score on (bench_general.py's geometry),
picks the review micrographs with the bundled general model as `cryopick pick` does, and
has the "person" correct them as they would on the page:

* ``reject-only``: every pick that matches no true particle (within half a diameter) is
  clicked away; nothing is added;
* ``full``: the same, and every particle the picks missed is clicked on (added).

It counts the clicks, fine-tunes the general model on what was kept (`cryopick train
--init general`, the general model's threshold), and scores the test micrographs at each
model's own threshold against ``general`` with no labels.

    python benchmarks/bench_review_loop.py          # ~10 min on 2 cores
    python benchmarks/bench_review_loop.py --quick  # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, write_report
from _picking import Split, pick_cryopick, score, set_threads, simulate_split, train_cryopick

from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn
from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.pickers.fcn.general import general_model_path
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import make_picks, picks_for
from cryopick.evaluation.matching import match
from cryopick.models.checkpoint import LoadedModel, load_model

REVIEWS = ("reject-only", "full")


def reviewed_labels(picks: pd.DataFrame, truth: pd.DataFrame, radius_px: float, review: str
                    ) -> tuple[pd.DataFrame, dict]:
    """The picks a perfect reviewer keeps (and adds), and the clicks it took."""
    kept, n_rejected, n_added = [], 0, 0
    for name in sorted(set(picks["micrograph"]) | set(truth["micrograph"])):
        mine, theirs = picks_for(picks, name), picks_for(truth, name)
        pick_idx, truth_idx = match(mine[["x", "y"]].to_numpy(), theirs[["x", "y"]].to_numpy(), radius_px,
                                    mine["score"].to_numpy()) if len(mine) and len(theirs) else ([], [])
        good = np.zeros(len(mine), dtype=bool)
        good[np.asarray(pick_idx, dtype=int)] = True
        n_rejected += int((~good).sum())
        kept.append(mine.loc[good])
        if review == "full":
            missed = np.ones(len(theirs), dtype=bool)
            missed[np.asarray(truth_idx, dtype=int)] = False
            n_added += int(missed.sum())
            added = theirs.loc[missed]
            kept.append(make_picks(name, added["x"].to_numpy(), added["y"].to_numpy(), np.nan,
                                   float(mine["diameter_px"].median()) if len(mine) else np.nan))
    labels = pd.concat(kept, ignore_index=True)
    return labels, {"n_labels": len(labels), "clicks_reject": n_rejected, "clicks_add": n_added,
                    "clicks": n_rejected + n_added}


def run(structure: str, args: argparse.Namespace, workdir: Path, general: LoadedModel) -> list[dict]:
    split = simulate_split(workdir / structure, structure, n_train=args.n_review, n_test=args.n_test, size=args.size,
                           apix=args.apix, snr=None, label_fraction=1.0, wrong_label_fraction=0.0, seed=args.seed)
    general = replace(general, diameter_A=split.diameter_A)
    config = FCNTrainConfig(seed=args.seed, default_threshold=general.threshold,
                            **({"max_epochs": args.max_epochs} if args.max_epochs else {}))
    shown = pd.concat([pick_fcn(read_micrograph(p), general, None, FCNPickConfig()) for p in split.train_paths],
                      ignore_index=True)  # what the review page starts from: the picks at the threshold
    rows = []
    for setup in ("general", *REVIEWS):
        facts: dict = {"n_labels": 0, "clicks": 0, "clicks_reject": 0, "clicks_add": 0, "train_s": 0.0}
        loaded = general
        if setup != "general":
            labels, facts = reviewed_labels(shown, split.truth_train, split.radius_px, setup)
            loaded, _, seconds = train_cryopick(replace(split, labels=labels), config,
                                                workdir / f"{structure}_{setup}.cryopick", initial=general.model)
            facts["train_s"] = round(seconds, 1)
        picks, _ = pick_cryopick(split, loaded)
        row = {"structure": structure, "setup": setup, "n_shown": len(shown), **facts,
               "threshold": round(loaded.threshold, 3),
               **score(picks, split.truth_test, split.radius_px, loaded.threshold)}
        rows.append(row)
        print(f"{structure:>9} {setup:>11}: F1 {row['f1']:.3f} (P {row['precision']:.3f} R {row['recall']:.3f}); "
              f"{row['clicks']} clicks ({row['clicks_reject']} rejected, {row['clicks_add']} added) on "
              f"{len(shown)} picks, {row['train_s']:.0f} s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["globular", "ring7", "dumbbell"])
    parser.add_argument("--n-review", type=int, default=2, help="micrographs the person reviews")
    parser.add_argument("--n-test", type=int, default=4)
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--apix", type=float, default=2.5)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=RESULTS / "review_loop.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_review, args.n_test, args.size, args.apix, args.max_epochs = (
            args.structures[:1], 1, 1, 768, 4.0, 2)
        if args.json == RESULTS / "review_loop.json":
            args.json = RESULTS / "review_loop_quick.json"
    set_threads(args.threads)
    general = load_model(general_model_path())
    with tempfile.TemporaryDirectory(prefix="cryopick-review-") as tmp:
        workdir = args.workdir or Path(tmp)
        rows = [row for structure in args.structures for row in run(structure, args, workdir, general)]
    print(pd.DataFrame(rows)[["structure", "setup", "n_shown", "clicks_reject", "clicks_add", "n_labels",
                              "precision", "recall", "f1", "train_s"]].to_string(index=False))
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return write_report(args.json, {"command": "python benchmarks/bench_review_loop.py" +
                                    (" --quick" if args.quick else ""), "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
