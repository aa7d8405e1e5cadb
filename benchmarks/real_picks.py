"""Picks on the real micrographs, for a person to judge: no truth exists for them.

The real micrographs in ../shared/data/real-micrographs-unlabeled carry no labels, so
this script plays the user who labels a few particles: it takes a random
``--label-fraction`` of what the reference-free LoG picker keeps at its automatic cut as
sparse, imperfect labels on the micrograph itself (random, as a person labels a sample
of the particles; the strongest LoG picks only would make the particle-count estimate
low, see docs/fcn_picker.md),
trains the FCN from them with `cryopick train`'s defaults, and picks the micrograph.
It draws the picks over the whole micrograph and over a zoomed centre, and writes
``docs/real_picks_<name>.png`` plus a JSON of the counts.

    python benchmarks/real_picks.py                # both micrographs
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, write_report  # noqa: E402

from cryopick.pickers.fcn.data import labelled_image  # noqa: E402
from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn  # noqa: E402
from cryopick.pickers.fcn.train import FCNTrainConfig, save_fcn_model, train_fcn  # noqa: E402
from cryopick.io.micrographs import read_micrograph  # noqa: E402
from cryopick.pickers.log import LoGConfig, pick_log  # noqa: E402
from cryopick.models.checkpoint import load_model  # noqa: E402
from cryopick.preprocess import fourier_crop  # noqa: E402

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-micrographs-unlabeled"
DOCS = Path(__file__).resolve().parents[1] / "docs"
DIAMETERS_A = {"epu2.9_example.mrc": 150.0, "fei-extended.mrc": 150.0}


def draw(image: np.ndarray, picks, labels, diameter_px: float, title: str, out: Path, zoom_px: int) -> None:
    bin_by = max(1, int(round(image.shape[1] / 1024)))
    small = fourier_crop(image, bin_by)
    lo, hi = np.percentile(small, [1, 99])
    ny, nx = image.shape
    cy, cx = ny // 2, nx // 2
    half = zoom_px // 2
    zoom = fourier_crop(image[cy - half:cy + half, cx - half:cx + half], max(1.0, zoom_px / 1024))
    zlo, zhi = np.percentile(zoom, [1, 99])
    fig, axes = plt.subplots(1, 2, figsize=(16, 8.4))
    for ax, img, (vmin, vmax), scale, (x0, y0) in (
        (axes[0], small, (lo, hi), image.shape[1] / small.shape[1], (0, 0)),
        (axes[1], zoom, (zlo, zhi), zoom_px / zoom.shape[1], (cx - half, cy - half)),
    ):
        ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax)
        for table, colour, width in ((picks, "#00e5ff", 1.2), (labels, "#ffcc00", 2.0)):
            inside = ((table["x"] >= x0) & (table["x"] < x0 + (img.shape[1] * scale))
                      & (table["y"] >= y0) & (table["y"] < y0 + (img.shape[0] * scale)))
            for x, y in zip(table.loc[inside, "x"], table.loc[inside, "y"]):
                ax.add_patch(plt.Circle(((x - x0) / scale, (y - y0) / scale), diameter_px / 2 / scale,
                                        fill=False, color=colour, lw=width))
        ax.set_axis_off()
    axes[0].set_title("whole micrograph (cyan: FCN picks at the model's threshold; yellow: the LoG labels it learned from)",
                      fontsize=9)
    axes[1].set_title(f"centre, {zoom_px} px across", fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", nargs="+", default=list(DIAMETERS_A))
    parser.add_argument("--label-fraction", type=float, default=0.2,
                        help="labels = this fraction of the LoG picks, drawn at random")
    parser.add_argument("--zoom-px", type=int, default=1400)
    parser.add_argument("--json", type=Path, default=RESULTS / "real_picks.json")
    args = parser.parse_args(argv)
    rows = []
    for name in args.names:
        mic = read_micrograph(REAL / name)
        diameter_A = DIAMETERS_A[name]
        log_picks = pick_log(mic, diameter_A, LoGConfig())
        n_labels = max(5, int(args.label_fraction * len(log_picks)))
        labels = log_picks.sample(n=min(n_labels, len(log_picks)), random_state=0)
        start = time.perf_counter()
        image = labelled_image(mic, labels, diameter_A)
        result = train_fcn([image], FCNTrainConfig(seed=0), progress=print)
        train_s = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:  # the model as `cryopick pick --model` reads it
            save_fcn_model(Path(tmp) / "real.cryopick", result, diameter_A)
            loaded = load_model(Path(tmp) / "real.cryopick")
        start = time.perf_counter()
        picks = pick_fcn(mic, loaded, None, FCNPickConfig())
        pick_s = time.perf_counter() - start
        out = DOCS / f"real_picks_{Path(name).stem}.png"
        title = (f"{name}: {mic.shape[1]}x{mic.shape[0]} px at {mic.apix:.3f} Å/px, particle {diameter_A:g} Å; "
                 f"{len(labels)} LoG labels -> {len(picks)} FCN picks (train {train_s:.0f} s, pick {pick_s:.1f} s)")
        draw(mic.data, picks, labels, diameter_A / mic.apix, title, out, args.zoom_px)
        print(f"wrote {out}")
        rows.append({"micrograph": name, "diameter_A": diameter_A, "log_picks": len(log_picks),
                     "labels": len(labels), "fcn_picks": len(picks), "particle_count_estimate":
                     round(result.n_particles_estimate), "labels_dropped": result.n_labels_dropped,
                     "train_s": round(train_s, 1), "pick_s": round(pick_s, 2), "picture": str(out.name)})
    return write_report(args.json, {"benchmark": "real_picks", "rows": rows})


if __name__ == "__main__":
    main()
