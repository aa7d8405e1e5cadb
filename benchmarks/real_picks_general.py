"""The bundled general model on the real micrographs, with no labels: a picture for a person to judge.

No truth exists for these micrographs. The general model picks each at its default
threshold (junk regions and the contrast guard on, as `cryopick pick --diameter D`). The
UCSF micrograph also shows its contamination mask (MicrographCleaner's p > 0.5) and
counts how many picks fall inside it. Writes ``docs/general_real_picks.png`` and a JSON
of the counts.

    python benchmarks/real_picks_general.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, write_report  # noqa: E402

from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn  # noqa: E402
from cryopick.pickers.fcn.general import general_model_path  # noqa: E402
from cryopick.io.micrographs import read_micrograph  # noqa: E402
from cryopick.models.checkpoint import load_model  # noqa: E402
from cryopick.preprocess import fourier_crop  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DOCS = Path(__file__).resolve().parents[1] / "docs"
# (file, particle diameter in Å, pixel size override): UCSF's header says 1 Å/px, a placeholder; 46 px is its box
MICROGRAPHS = (("real-micrographs-unlabeled/epu2.9_example.mrc", 150.0, None),
               ("real-micrographs-unlabeled/fei-extended.mrc", 150.0, None),
               ("ucsf-micrograph-with-autopicks/Ucsf_stack_1142_DW.mrc", 46.0, 1.0))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=RESULTS / "general_real_picks.json")
    parser.add_argument("--figure", type=Path, default=DOCS / "general_real_picks.png")
    args = parser.parse_args(argv)
    loaded = load_model(general_model_path())
    fig, axes = plt.subplots(1, len(MICROGRAPHS), figsize=(6 * len(MICROGRAPHS), 6.4))
    rows = []
    for ax, (name, diameter_A, apix) in zip(axes, MICROGRAPHS):
        mic = read_micrograph(DATA / name, apix)
        start = time.perf_counter()
        picks = pick_fcn(mic, loaded, diameter_A, FCNPickConfig())
        seconds = time.perf_counter() - start
        row = {"micrograph": Path(name).name, "diameter_A": diameter_A, "apix": float(mic.apix),
               "n_picks": len(picks), "seconds": round(seconds, 2)}
        factor = max(1.0, max(mic.shape) / 1024)
        view = fourier_crop(np.asarray(mic.data, dtype=np.float32), factor)
        centre, spread = np.median(view), 1.4826 * np.median(np.abs(view - np.median(view)))
        lo, hi = centre - 3 * spread, centre + 3 * spread  # robust: a large ice blob does not set the contrast
        ax.imshow(view, cmap="gray", vmin=lo, vmax=hi)
        sx, sy = mic.shape[1] / view.shape[1], mic.shape[0] / view.shape[0]
        radius = 0.5 * diameter_A / float(mic.apix) / sx
        for x, y in zip(picks["x"] / sx, picks["y"] / sy):
            ax.add_patch(plt.Circle((x, y), radius, fill=False, color="lime", lw=0.8))
        mask_path = (DATA / name).with_name(Path(name).stem + ".contamination_mask.mrc")
        if mask_path.is_file():
            mask = np.asarray(read_micrograph(mask_path, 1.0, allow_nonfinite=True).data) > 0.5
            rows_px = np.clip(np.rint(picks["y"]).astype(int), 0, mask.shape[0] - 1)
            cols_px = np.clip(np.rint(picks["x"]).astype(int), 0, mask.shape[1] - 1)
            row["picks_in_contamination"] = int(mask[rows_px, cols_px].sum())
            ax.contour(fourier_crop(mask.astype(np.float32), factor), levels=[0.5], colors="red", linewidths=1)
        ax.set_title(f"{row['micrograph']}: {len(picks)} picks at {diameter_A:g} Å"
                     + (f", {row['picks_in_contamination']} in the red mask" if "picks_in_contamination" in row else ""),
                     fontsize=10)
        ax.axis("off")
        rows.append(row)
        print(row, flush=True)
    fig.suptitle("The bundled general model, no labels (junk regions and contrast guard on)")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=80)
    print(f"wrote {args.figure}")
    return write_report(args.json, {"benchmark": "general_real_picks", "rows": rows})


if __name__ == "__main__":
    main()
