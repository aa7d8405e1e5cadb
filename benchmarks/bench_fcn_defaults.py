"""Do the FCN's defaults hold, and what does rotation buy? Two experiments, no tuning between runs.

``--experiment snr``: every structure at every SNR (per pixel, see docs/simulator.md),
sparse and partly wrong labels, the FCN with `cryopick train`'s defaults beside the LoG
picker on the same test micrographs.

``--experiment rotation``: one structure, the FCN trained with random rotations and
mirror images (the default) and with multiples of 90 degrees only, each picked with and
without test-time averaging over the 8 rotations and mirror images.

    python benchmarks/bench_fcn_defaults.py --experiment snr
    python benchmarks/bench_fcn_defaults.py --experiment rotation
    python benchmarks/bench_fcn_defaults.py --quick        # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from _common import RESULTS, write_report
from _picking import (
    cleaning_stats,
    pick_cryopick,
    pick_log_test,
    score,
    set_threads,
    simulate_split,
    train_cryopick,
)

from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.pickers.log import LoGConfig


def _split(args: argparse.Namespace, workdir: Path, structure: str, snr: float | None):
    return simulate_split(workdir / f"{structure}_{snr}", structure, n_train=args.n_train, n_test=args.n_test,
                          size=args.size, apix=args.apix, snr=snr, label_fraction=args.label_fraction,
                          wrong_label_fraction=args.wrong_label_fraction, seed=args.seed)


def _config(args: argparse.Namespace, **changes) -> FCNTrainConfig:
    return FCNTrainConfig(seed=args.seed, **({"max_epochs": args.max_epochs} if args.max_epochs else {}), **changes)


def snr_rows(args: argparse.Namespace, workdir: Path) -> list[dict]:
    rows = []
    for structure in args.structures:
        for snr in args.snrs:
            split = _split(args, workdir, structure, snr)
            loaded, result, train_s = train_cryopick(split, _config(args), workdir / f"{structure}_{snr}.cryopick")
            picks, pick_s = pick_cryopick(split, loaded)
            log_picks, log_s = pick_log_test(split)
            fcn, log = (score(picks, split.truth_test, split.radius_px, loaded.threshold),
                        score(log_picks, split.truth_test, split.radius_px, LoGConfig().auto_threshold))
            rows.append({"structure": structure, "diameter_A": round(split.diameter_A), "snr": snr,
                         "fcn_threshold": round(loaded.threshold, 3),
                         **split.label_stats(), **{f"fcn_{k}": v for k, v in fcn.items()},
                         **{f"log_{k}": v for k, v in log.items()}, "fcn_train_s": round(train_s, 1),
                         "fcn_epochs": len(result.history), "fcn_pick_s": round(pick_s, 3), "log_pick_s": round(log_s, 3),
                         **cleaning_stats(split, result)})
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    return rows


def rotation_rows(args: argparse.Namespace, workdir: Path) -> list[dict]:
    rows = []
    structure = args.structures[0]
    snr = args.snrs[0]
    split = _split(args, workdir, structure, snr)
    for rotate in (True, False):
        loaded, result, train_s = train_cryopick(split, _config(args, rotate=rotate),
                                                 workdir / f"rotation_{rotate}.cryopick")
        for tta in (False, True):
            picks, pick_s = pick_cryopick(split, loaded, tta=tta)
            rows.append({"structure": structure, "snr": snr,
                         "training": "random angle + mirror" if rotate else "90-degree turns + mirror",
                         "test_time_8_views": tta, **score(picks, split.truth_test, split.radius_px, loaded.threshold),
                         "train_s": round(train_s, 1), "pick_s_per_micrograph": round(pick_s, 3)})
            print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", choices=["snr", "rotation"], default="snr")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["globular", "ring7", "dumbbell"])
    parser.add_argument("--snrs", type=float, nargs="+", default=[0.1, 0.05, 0.02])
    parser.add_argument("--n-train", type=int, default=6)
    parser.add_argument("--n-test", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--apix", type=float, default=2.5)
    parser.add_argument("--label-fraction", type=float, default=0.2)
    parser.add_argument("--wrong-label-fraction", type=float, default=0.2)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None, help="keep data and models here")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.snrs, args.n_train, args.n_test = args.structures[:1], args.snrs[:1], 2, 1
        args.size, args.apix, args.max_epochs = 512, 4.0, 1
    set_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="cryopick-defaults-") as tmp:
        rows = (snr_rows if args.experiment == "snr" else rotation_rows)(args, args.workdir or Path(tmp))
    print(pd.DataFrame(rows).to_string(index=False))
    out = args.json or RESULTS / f"fcn_{args.experiment}.json"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    return write_report(out, {"benchmark": f"fcn_{args.experiment}", "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
