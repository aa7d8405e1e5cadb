"""Does the label check tell right labels from y-flipped ones, on real and simulated micrographs?

For each real labelled set (the first four micrographs by name, ``--label-fraction`` of
their labels, as ``bench_real.py`` trains) and for a simulated set, the labels as given
and the same labels mirrored in y go through :func:`cryopick.pickers.label_check.label_structure`
(as placed and mirrored) and :func:`~cryopick.pickers.label_check.label_warning`, on the
working-scale images ``cryopick train`` prepares. A good check passes every given set
and tells every flipped one to flip.

    python benchmarks/bench_label_check.py           # about a minute on 2 cores
    python benchmarks/bench_label_check.py --quick   # the simulated set only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import RESULTS, write_report
from bench_real import SETS, SHARED, load_split

from cryopick.io.coords import read_coords
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import picks_for
from cryopick.pickers.fcn.data import labelled_image
from cryopick.pickers.label_check import LabelImage, label_structure, label_warning


def _row(name: str, paths: list[Path], labels: pd.DataFrame, diameter_A: float, apix: float | None,
         flipped: bool) -> dict:
    mics = [read_micrograph(p, apix) for p in paths]
    if flipped:
        shapes = {m.name: m.shape for m in mics}
        labels = labels.assign(y=[shapes[m][0] - 1.0 - y for m, y in zip(labels["micrograph"], labels["y"])])
    images = [labelled_image(m, picks_for(labels, m.name), diameter_A) for m in mics]
    items = [LabelImage(i.image, i.labels_xy) for i in images]
    diameter_px = images[0].preprocessed.diameter_px
    start = time.perf_counter()
    warning = label_warning(items, diameter_px)
    seconds = time.perf_counter() - start
    verdict = "pass" if warning is None else ("flip" if "y-flipped" in warning else "background")
    return {"set": name, "labels": "flipped" if flipped else "as given", "n_labels": sum(len(i.labels_xy) for i in items),
            "z_placed": round(label_structure(items, diameter_px), 1),
            "z_mirrored": round(label_structure(items, diameter_px, mirrored=True), 1),
            "verdict": verdict, "right": verdict == ("flip" if flipped else "pass"), "check_s": round(seconds, 3)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label-fraction", type=float, default=0.2)
    parser.add_argument("--quick", action="store_true", help="the simulated set only")
    parser.add_argument("--json", type=Path, default=RESULTS / "label_check.json")
    args = parser.parse_args(argv)
    rows = []
    if not args.quick and SHARED.exists():
        for key, real in SETS.items():
            split = load_split(real, 4, args.label_fraction, 0)
            for flipped in (False, True):
                rows.append(_row(key, split.train_paths, split.train_labels, real.diameter_A, real.apix, flipped))
    from cryopick.simulate.dataset import simulate_dataset
    from cryopick.simulate.config import SimulationConfig

    with tempfile.TemporaryDirectory() as folder:
        simulate_dataset(Path(folder), SimulationConfig(n_micrographs=3, shape=(768, 768), apix=4.0, seed=0,
                                                              label_fraction=args.label_fraction))
        labels = read_coords(Path(folder) / "labels.star")
        paths = sorted((Path(folder) / "micrographs").glob("*.mrc"))
        for flipped in (False, True):
            rows.append(_row("simulated", paths, labels, 120.0, None, flipped))
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    return write_report(args.json, {"label_fraction": args.label_fraction, "rows": rows,
                                    "all_right": bool(table["right"].all())})


if __name__ == "__main__":
    sys.exit(0 if main()["all_right"] else 1)
