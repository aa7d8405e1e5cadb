"""One change to the FCN's training, measured on a real labelled set (the ablations of docs/benchmarks.md).

The protocol of ``bench_real.py`` (first 4 micrographs by name, a seeded 20% of their
labels, the rest scored against all labels within half a diameter), with the training run
through the library so that any :class:`~cryopick.pickers.fcn.config.FCNTrainConfig`
field can be changed, plus two switches that are module constants in the library:

    python benchmarks/bench_real_ablation.py apoferritin                       # the defaults
    python benchmarks/bench_real_ablation.py apoferritin prior=0.0318          # the true prior (an oracle)
    python benchmarks/bench_real_ablation.py trpv1 channels=32 field_per_diameter=2.5 max_steps_per_epoch=80
    python benchmarks/bench_real_ablation.py trpv1 --no-count-guard            # always trust the labels' count
    python benchmarks/bench_real_ablation.py trpv1 --working-px 24             # working scale 24 px, not 16
    python benchmarks/bench_real_ablation.py trpv1 --label-fraction 1.0 --score-train   # every label; fit on training
    python benchmarks/bench_real_ablation.py trpv1 --pick min_distance_diameters=0.35   # a picking setting
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_real  # noqa: E402
from _common import RESULTS, write_report  # noqa: E402

import cryopick.pickers.fcn.data as fcn_data  # noqa: E402
import cryopick.pickers.fcn.train as fcn_train  # noqa: E402
from cryopick.io.micrographs import read_micrograph  # noqa: E402
from cryopick.models.checkpoint import load_model  # noqa: E402
from cryopick.pickers.fcn.config import FCNTrainConfig  # noqa: E402
from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn  # noqa: E402
from cryopick.preprocess import PreprocessConfig  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", choices=list(bench_real.SETS))
    parser.add_argument("overrides", nargs="*", help="FCNTrainConfig fields, KEY=VALUE (Python literals)")
    parser.add_argument("--no-count-guard", action="store_true", help="trust the count from the labels always")
    parser.add_argument("--working-px", type=float, default=None, help="the FCN's working particle diameter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label-fraction", type=float, default=0.2,
                        help="fraction of the training labels given (1.0: every label, an upper bound)")
    parser.add_argument("--pick", nargs="*", default=[], metavar="KEY=VALUE",
                        help="FCNPickConfig fields for picking the test micrographs (e.g. min_distance_diameters=0.35)")
    parser.add_argument("--score-train", action="store_true",
                        help="also pick the training micrographs and score them against all their labels (how well it fits)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    overrides = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.overrides)}
    pick_overrides = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.pick)}
    if args.no_count_guard:
        fcn_train.count_is_trusted = lambda median, share: True
    if args.working_px is not None:
        fcn_data.FCN_PREPROCESS = fcn_train.FCN_PREPROCESS = PreprocessConfig(working_diameter_px=args.working_px)
    torch.set_num_threads(2)
    config = FCNTrainConfig(seed=args.seed, **overrides)
    split = bench_real.load_split(bench_real.SETS[args.set], 4, args.label_fraction, args.seed)
    start = time.perf_counter()
    images = []
    for path in split.train_paths:
        mic = read_micrograph(path, split.real.apix)
        images.append(fcn_data.labelled_image(
            mic, split.train_labels[split.train_labels["micrograph"] == mic.name], split.real.diameter_A,
            positive_radius_diameters=config.positive_radius_diameters,
            validation_fraction=config.validation_fraction))
    lines: list[str] = []
    result = fcn_train.train_fcn(images, config, progress=lines.append)
    train_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        fcn_train.save_fcn_model(Path(tmp) / "m.cryopick", result, split.real.diameter_A)
        loaded = load_model(Path(tmp) / "m.cryopick")
    pick_config = FCNPickConfig(**{"threshold": 0.0, **pick_overrides})
    picks, pick_s = bench_real._timed_picks(split, lambda mic: pick_fcn(mic, loaded, None, pick_config))
    fit = {}
    if args.score_train:
        on_train = bench_real.load_split(bench_real.SETS[args.set], 0, 1.0, args.seed, n_test=4)
        train_picks, _ = bench_real._timed_picks(on_train, lambda mic: pick_fcn(mic, loaded, None, pick_config))
        scores = bench_real._scores(train_picks, on_train, loaded.threshold)
        fit = {"train_average_precision": scores["average_precision"], "train_best_f1": scores["best_f1"]}
    row = {"set": args.set, "overrides": overrides, "pick_overrides": pick_overrides,
           "no_count_guard": args.no_count_guard,
           "working_px": args.working_px, "label_fraction": args.label_fraction,
           **bench_real._scores(picks, split, loaded.threshold), **fit,
           "threshold": round(loaded.threshold, 3), "particle_count_estimate": round(result.n_particles_estimate),
           "train_particles_labelled": split.n_train_labels_all, "train_s": round(train_s, 1),
           "epochs": len(result.history), "pick_s_per_micrograph": round(pick_s, 2),
           "decisions": [line for line in lines if "epoch" not in line]}
    print(row, flush=True)
    return write_report(args.json or RESULTS / f"real_ablation_{args.set}.json",
                        {"benchmark": "real_ablation", "command": "python benchmarks/bench_real_ablation.py "
                         + " ".join(argv if argv is not None else sys.argv[1:]), "rows": [row]})


if __name__ == "__main__":
    main()
