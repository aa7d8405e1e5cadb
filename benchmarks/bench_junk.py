"""Never pick junk (issue 5): how many picks land on ice, carbon, dots and aggregates.

For each structure, simulates micrographs with lots of junk (`--junk lots`: crystalline
ice, carbon edges on most micrographs, dots, aggregates) and trains the FCN on the first
``--n-train`` of them from sparse, partly wrong labels, as `cryopick train` does, in
several set-ups:

* ``pu``: no junk information: positive-unlabeled training, and at pick time only the
  contrast guard (as before issue 5);
* ``pu+regions``: the same training; at pick time candidates inside automatically
  detected high-contrast regions (ice, carbon) are dropped too (the default of
  `cryopick pick`);
* ``masks+regions``: the simulator's junk masks given as background in training
  (`--background-masks sim/junk_masks`: junk is a known negative), and regions at pick time;
* ``...+aggregates``: the same, with the aggregate guard at pick time
  (`cryopick pick --aggregate-guard`);
* ``tuned+masks+regions(+aggregates)``: the general model fine-tuned (`--init general`)
  on the same labels and junk masks;
* ``general``: the bundled general model, no labels at all (trained on other structures
  with junk as known background), regions at pick time.

Each picks the ``--n-test`` test micrographs at its own threshold. A pick *lands on junk*
when it matches no true particle (within half a diameter) and lies on the simulator's
junk mask (every junk object, grown by a quarter diameter for its fringes, with the good
particles kept clear); its kind is that of the nearest junk object. Reports the fraction
of picks on junk (by kind), recall, precision and F1 against the good particles. Prints a
table, writes JSON.

    python benchmarks/bench_junk.py            # full run (~10 min on 2 cores)
    python benchmarks/bench_junk.py --quick    # smoke run (CI runs this)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, write_report
from _picking import Split, add_split_options, matched_to_truth, score, set_threads, simulate_split, train_cryopick

from cryopick.postprocess.aggregates import AggregateGuardConfig
from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn
from cryopick.pickers.fcn.train import FCNTrainConfig
from cryopick.pickers.fcn.general import general_model_path
from cryopick.io.masks import read_mask
from cryopick.io.micrographs import read_micrograph
from cryopick.models.checkpoint import LoadedModel, load_model

JUNK_KINDS = ("ice", "dot", "aggregate", "carbon_edge")
SETUPS = ("pu", "pu+regions", "pu+regions+aggregates", "masks+regions", "masks+regions+aggregates",
          "tuned+masks+regions", "tuned+masks+regions+aggregates", "general")


def train(split: Split, out: Path, use_masks: bool, config: FCNTrainConfig, model_file: Path,
          initial: LoadedModel | None = None) -> tuple:
    if initial is not None:  # as `cryopick train --init`: its weights and its threshold
        config = replace(config, default_threshold=initial.threshold)
    return train_cryopick(split, config, model_file, masks_dir=out / "junk_masks" if use_masks else None,
                          initial=None if initial is None else initial.model)


def junk_of(picks: pd.DataFrame, split: Split, out: Path) -> pd.Series:
    """For every pick, the junk kind it lands on, or '' (on a particle or on clean background)."""
    objects = pd.read_csv(out / "objects.csv")
    kinds = pd.Series([""] * len(picks), index=picks.index, dtype=object)
    matched_all = matched_to_truth(picks, split.truth_test, split.radius_px)
    names = picks["micrograph"].to_numpy()
    for name, mine in picks.groupby("micrograph"):
        matched = matched_all[names == name]
        mask = read_mask(out / "junk_masks" / f"{name}.mrc", _shape(out, name))
        rows = np.clip(np.rint(mine["y"].to_numpy()).astype(int), 0, mask.shape[0] - 1)
        cols = np.clip(np.rint(mine["x"].to_numpy()).astype(int), 0, mask.shape[1] - 1)
        on_junk = mask[rows, cols] & ~matched
        junk = objects.loc[(objects["micrograph"] == name) & objects["kind"].isin(JUNK_KINDS)]
        for index, x, y in zip(mine.index[on_junk], mine["x"].to_numpy()[on_junk], mine["y"].to_numpy()[on_junk]):
            d = np.hypot(junk["x"].to_numpy() - x, junk["y"].to_numpy() - y) - 0.5 * junk["diameter_px"].fillna(0).to_numpy()
            kinds[index] = str(junk["kind"].to_numpy()[int(np.argmin(d))]) if len(junk) else "junk"
    return kinds


def _shape(out: Path, name: str) -> tuple[int, int]:
    from cryopick.io.micrographs import read_micrograph_info

    return read_micrograph_info(out / "micrographs" / f"{name}.mrc").shape


def run(structure: str, args: argparse.Namespace, workdir: Path) -> list[dict]:
    out = workdir / structure
    split = simulate_split(out, structure, n_train=args.n_train, n_test=args.n_test, size=args.size, apix=args.apix,
                           snr=None, label_fraction=args.label_fraction, wrong_label_fraction=args.wrong_label_fraction,
                           seed=args.seed, junk="lots")
    base = FCNTrainConfig(seed=args.seed, field_per_diameter=args.field_per_diameter,
                          background_weight=args.background_weight,
                          **({"max_epochs": args.max_epochs} if args.max_epochs else {}))
    rows, models = [], {}
    for setup in args.setups:
        use_masks = "masks" in setup
        tuned = setup.startswith("tuned")
        if setup == "general":
            loaded, train_s = load_model(args.general_model or general_model_path()), 0.0
            loaded.diameter_A = split.diameter_A
        else:
            key = (use_masks, tuned)
            if key not in models:
                initial = load_model(args.general_model or general_model_path()) if tuned else None
                models[key] = train(split, out, use_masks, base, workdir / f"{structure}_{setup}.cryopick", initial)
            loaded, result, train_s = models[key]
        pick_config = FCNPickConfig(threshold=0.0, junk_regions="regions" in setup or setup == "general",
                                    aggregate_guard=AggregateGuardConfig() if "aggregates" in setup else None)
        start = time.perf_counter()
        picks = pd.concat([pick_fcn(read_micrograph(p), loaded, None, pick_config) for p in split.test_paths],
                          ignore_index=True)
        pick_s = (time.perf_counter() - start) / len(split.test_paths)
        chosen = picks.loc[picks["score"] >= loaded.threshold].reset_index(drop=True)
        kinds = junk_of(chosen, split, out)
        row = {"structure": structure, "setup": setup, "n_test_particles": len(split.truth_test),
               "n_picks": len(chosen), "on_junk": round(float((kinds != "").mean()), 4) if len(chosen) else 0.0,
               **{f"on_{k}": int((kinds == k).sum()) for k in JUNK_KINDS},
               **score(picks, split.truth_test, split.radius_px, loaded.threshold),
               "threshold": round(loaded.threshold, 3), "train_s": round(train_s, 1), "pick_s": round(pick_s, 2)}
        rows.append(row)
        print(f"{structure:>9} {setup:>14}: {row['n_picks']:>5} picks, {100 * row['on_junk']:5.2f}% on junk "
              f"(ice {row['on_ice']}, dot {row['on_dot']}, aggregate {row['on_aggregate']}, "
              f"carbon {row['on_carbon_edge']}), recall {row['recall']:.3f}, precision {row['precision']:.3f}, "
              f"F1 {row['f1']:.3f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_options(parser, seed=5, json=RESULTS / "junk.json")
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=SETUPS)
    parser.add_argument("--general-model", type=Path, default=None, help="for the general set-up (default: bundled)")
    parser.add_argument("--field-per-diameter", type=float, default=FCNTrainConfig.field_per_diameter)
    parser.add_argument("--background-weight", type=float, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args = replace_args(args, structures=args.structures[:1], n_train=2, n_test=1, size=768, max_epochs=3,
                            json=args.json.with_name("junk_quick.json") if args.json == RESULTS / "junk.json" else args.json)
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        rows = [row for structure in args.structures for row in run(structure, args, workdir)]
    report = {"command": "python benchmarks/bench_junk.py" + (" --quick" if args.quick else ""),
              "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "rows": rows}
    return write_report(args.json, report)


def replace_args(args: argparse.Namespace, **changes) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), **changes})


if __name__ == "__main__":
    main()
