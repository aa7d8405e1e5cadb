"""Junk regions (issue 5): how well `cryopick.postprocess.junk_regions` masks ice, carbon and dark blobs.

* **UCSF (real)**: ``../shared/data/ucsf-micrograph-with-autopicks``. Its contamination mask
  is MicrographCleaner's (Sanchez-Garcia et al. 2020) predicted bad-region probability for
  this micrograph (the fixture of that package's test), thresholded at 0.5. Pixel precision,
  recall and IoU of our mask against it; of the 45 RELION autopicks, the fraction inside the
  annotation that our mask removes and the fraction outside it that it removes wrongly. The
  header's 1 A/px is a placeholder, so the particle diameter is given in pixels: 46 px,
  MicrographCleaner's box size for this micrograph (its test), with 36 and 56 px beside it.
  Variants: without the 0.5-d margin, and ``high_contrast_mask`` on the FCN picker's own
  image (``preprocess(.., FCN_PREPROCESS).image``: no unfiltered image, so no step and no
  carbon growing). Writes the picture ``docs/junk_regions_ucsf.png``.
* **Real, unlabeled**: the EPU (0.667 A/px) and FEI (0.854 A/px) micrographs of
  ``../shared/data/real-micrographs-unlabeled`` (particles and ice, no visible
  contamination): the masked area fraction at 100, 150 and 200 A.
* **Simulated** (1536 px at 2.5 A/px, normal crowding, per structure), three conditions:
  ``lots_of_junk`` (``junk="lots"``), ``carbon_on_every_micrograph`` (a carbon edge always,
  less of the rest) and ``crowded_no_junk`` (``crowding="crowded"``, ``junk="none"``). The
  fraction of true particles whose centre falls in the mask; of ice objects whose centre does
  and the mean fraction of their disc covered; of dots and aggregates (particle-sized, left
  to the picker's contrast guard; those on carbon are masked with it); and the fraction of
  the carbon side masked, rebuilt from the carbon_edge row of the objects table (edge point,
  normal angle, hole radius), with the fraction of the hole side masked beside it. Both
  ``junk_region_mask`` and the FCN-image variant.

The micrographs are simulated in memory (``simulate_micrograph``: the images
``simulate_dataset`` writes). Prints tables and writes JSON.

    python benchmarks/bench_junk_regions.py            # full run (~50 s on 2 cores)
    python benchmarks/bench_junk_regions.py --quick    # smoke run (~4 s)
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import asdict, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import RESULTS, write_report  # noqa: E402
from scipy import ndimage  # noqa: E402

from cryopick.io.coords import read_coords  # noqa: E402
from cryopick.io.masks import resize_mask  # noqa: E402
from cryopick.io.micrographs import Micrograph, read_micrograph  # noqa: E402
from cryopick.postprocess.junk_regions import JunkRegionConfig, high_contrast_mask, junk_region_mask  # noqa: E402
from cryopick.preprocess import PreprocessConfig, preprocess  # noqa: E402
from cryopick.simulate import SimulationConfig, simulate_micrograph  # noqa: E402
from cryopick.simulate.nuisances import JunkConfig, junk_preset  # noqa: E402
from cryopick.simulate.structures import load_structure  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UCSF = DATA / "ucsf-micrograph-with-autopicks"
REAL = DATA / "real-micrographs-unlabeled"
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "junk_regions_ucsf.png"
FCN_PREPROCESS = PreprocessConfig(working_diameter_px=16.0)  # = cryopick.pickers.fcn.data.FCN_PREPROCESS (no torch import)
JUNK_KINDS = ("ice", "dot", "aggregate")


def ucsf(args: argparse.Namespace, config: JunkRegionConfig) -> list[dict]:
    """Pixel and autopick agreement with the contamination mask, for a few diameters and both images."""
    mic = read_micrograph(UCSF / "Ucsf_stack_1142_DW.mrc")
    probability = read_micrograph(UCSF / "Ucsf_stack_1142_DW.contamination_mask.mrc", apix=1.0).data
    assert probability.shape == mic.data.shape, "mask and micrograph differ in shape"
    annotated = probability > 0.5
    picks = read_coords(UCSF / "Ucsf_stack_1142_DW_autopick.star")
    cols = np.clip(np.rint(picks["x"].to_numpy()).astype(int), 0, mic.data.shape[1] - 1)
    rows_ = np.clip(np.rint(picks["y"].to_numpy()).astype(int), 0, mic.data.shape[0] - 1)
    on_junk = annotated[rows_, cols]
    rows, figure_mask = [], None
    variants = {"junk_region_mask": config, "junk_region_mask, margin 0": replace(config, margin_diameters=0.0),
                "fcn_image": config}
    for diameter in args.ucsf_diameters:
        for image, settings in variants.items():
            start = time.perf_counter()
            if image.startswith("junk_region_mask"):
                mask = junk_region_mask(mic, diameter * mic.apix, settings)
            else:
                pre = preprocess(mic, diameter * mic.apix, FCN_PREPROCESS)
                mask = resize_mask(high_contrast_mask(pre.image, pre.diameter_px, config), mic.data.shape)
            seconds = time.perf_counter() - start
            both = int(np.count_nonzero(mask & annotated))
            removed = mask[rows_, cols]
            rows.append({"diameter_px": diameter, "image": image, "masked_fraction": round(float(mask.mean()), 4),
                         "annotated_fraction": round(float(annotated.mean()), 4),
                         "pixel_precision": round(both / max(int(mask.sum()), 1), 3),
                         "pixel_recall": round(both / max(int(annotated.sum()), 1), 3),
                         "pixel_iou": round(both / max(int((mask | annotated).sum()), 1), 3),
                         "autopicks_in_annotation": int(on_junk.sum()),
                         "removed_in_annotation": round(float(removed[on_junk].mean()), 3),
                         "autopicks_outside": int((~on_junk).sum()),
                         "removed_outside": round(float(removed[~on_junk].mean()), 3),
                         "seconds": round(seconds, 3)})
            if diameter == args.ucsf_diameters[0] and image == "junk_region_mask":
                figure_mask = mask
    if not args.no_figure and figure_mask is not None:
        draw_ucsf(mic.data, probability, annotated, figure_mask, picks, args.ucsf_diameters[0])
    return rows


def draw_ucsf(image: np.ndarray, probability: np.ndarray, annotated: np.ndarray, mask: np.ndarray,
              picks: pd.DataFrame, diameter: float) -> None:
    shown = ndimage.gaussian_filter(image.astype(np.float32), 1.5)
    low, high = np.percentile(shown[~annotated], [0.5, 99.5])  # the ice would take the whole grey range
    x, y = picks["x"].to_numpy(), picks["y"].to_numpy()
    cols = np.clip(np.rint(x).astype(int), 0, image.shape[1] - 1)
    rows = np.clip(np.rint(y).astype(int), 0, image.shape[0] - 1)
    removed = mask[rows, cols]
    fig, axes = plt.subplots(1, 2, figsize=(14, 7.2))
    for ax, (background, kwargs) in zip(axes, ((shown, {"vmin": low, "vmax": high}), (probability, {"vmin": 0, "vmax": 1}))):
        ax.imshow(background, cmap="gray", **kwargs)
        ax.contour(annotated, [0.5], colors="lime", linewidths=1.2)
        ax.contour(mask, [0.5], colors="red", linewidths=1.2)
        ax.plot(x[removed], y[removed], "x", color="red", ms=8, mew=2, ls="none", label=f"autopick removed ({removed.sum()})")
        ax.plot(x[~removed], y[~removed], "o", mfc="none", mec="cyan", ms=8, ls="none",
                label=f"autopick kept ({(~removed).sum()})")
        ax.set_axis_off()
    axes[0].plot([], [], color="lime", label="contamination mask (MicrographCleaner, p > 0.5)")
    axes[0].plot([], [], color="red", label=f"junk_region_mask (d = {diameter:g} px)")
    axes[0].legend(loc="lower right", fontsize=8, framealpha=0.85)
    axes[0].set_title("Ucsf_stack_1142_DW: micrograph")
    axes[1].set_title("the contamination probability it is compared with")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=90)
    plt.close(fig)
    print(f"wrote {FIGURE}")


def real(args: argparse.Namespace, config: JunkRegionConfig) -> list[dict]:
    rows = []
    for name in args.real:
        mic = read_micrograph(REAL / name)
        for diameter_A in args.real_diameters:
            start = time.perf_counter()
            mask = junk_region_mask(mic, diameter_A, config)
            rows.append({"micrograph": name, "apix": round(mic.apix, 4), "diameter_A": diameter_A,
                         "masked_fraction": round(float(mask.mean()), 4),
                         "seconds": round(time.perf_counter() - start, 3)})
    return rows


def carbon_side(row: pd.Series, shape: tuple[int, int], apix: float) -> np.ndarray:
    """The carbon side of a simulated carbon edge, from its objects row (edge point, normal angle, hole radius)."""
    ny, nx = shape
    angle = np.radians(float(re.search(r"normal angle ([-0-9.]+)", row["detail"]).group(1)))
    normal = np.array([np.cos(angle), np.sin(angle)])
    point, centre = np.array([row["x"], row["y"]], dtype=float), np.array([nx / 2.0, ny / 2.0])
    yy, xx = np.mgrid[:ny, :nx].astype(np.float32)
    hole = re.search(r"hole radius ([0-9.]+) A", row["detail"])
    if hole is None:  # straight: the half-plane the normal points into
        return (xx - point[0]) * normal[0] + (yy - point[1]) * normal[1] > 0
    # curved: carbon outside a circle whose centre lies on the normal through the image centre
    radius = float(hole.group(1)) / apix
    along = float(normal @ (point - centre))
    root = np.sqrt(max(along**2 - float((point - centre) @ (point - centre)) + radius**2, 0.0))
    s = min((-along + root, -along - root), key=lambda s: abs(s - (radius - along)))
    hole_centre = centre - normal * s
    return np.hypot(xx - hole_centre[0], yy - hole_centre[1]) > radius


CONDITIONS = {  # name: (junk, crowding)
    "lots_of_junk": ("lots", "normal"),
    "carbon_on_every_micrograph": (JunkConfig(ice_per_um2=4.0, dots_per_um2=100.0, aggregates_per_um2=20.0,
                                              carbon_edge_probability=1.0), "normal"),
    "crowded_no_junk": ("none", "crowded"),
}


def simulated(args: argparse.Namespace, config: JunkRegionConfig, structure: str, condition: str) -> list[dict]:
    """One row per micrograph and mask: junk_region_mask, and high_contrast_mask on the FCN picker's image."""
    junk, crowding = CONDITIONS[condition]
    sim = SimulationConfig.with_presets(crowding=crowding, n_micrographs=args.n_micrographs,
                                        shape=(args.size, args.size), apix=args.apix, structures=(structure,),
                                        seed=args.seed)
    sim = replace(sim, junk=junk_preset(junk) if isinstance(junk, str) else junk)
    diameter_A = load_structure(structure).diameter_A
    rows = []
    for index in range(args.n_micrographs):
        result = simulate_micrograph(sim, index)
        mic = Micrograph(result.name, Path(f"{result.name}.mrc"), result.image, args.apix)
        objects = result.objects
        edge = objects.loc[objects["kind"] == "carbon_edge"]
        carbon = carbon_side(edge.iloc[0], result.image.shape, args.apix) if len(edge) else None
        for image in ("junk_region_mask", "fcn_image"):
            start = time.perf_counter()
            if image == "junk_region_mask":
                mask = junk_region_mask(mic, diameter_A, config)
            else:
                pre = preprocess(mic, diameter_A, FCN_PREPROCESS)
                mask = resize_mask(high_contrast_mask(pre.image, pre.diameter_px, config), mic.data.shape)
            row = {"condition": condition, "structure": structure, "image": image, "micrograph": result.name,
                   "masked_fraction": round(float(mask.mean()), 4), "seconds": round(time.perf_counter() - start, 3)}
            for kind in ("particle", *JUNK_KINDS):
                mine = objects.loc[(objects["kind"] == kind) & objects["x"].between(0, args.size - 1)
                                   & objects["y"].between(0, args.size - 1)]
                inside = mask[np.rint(mine["y"]).astype(int), np.rint(mine["x"]).astype(int)]
                row[f"n_{kind}"], row[f"{kind}_in_mask"] = len(mine), int(inside.sum())
                if kind == "ice" and len(mine):
                    yy, xx = np.mgrid[: args.size, : args.size]
                    row["ice_area_covered"] = round(float(np.mean([
                        mask[(xx - x) ** 2 + (yy - y) ** 2 <= (d / 2) ** 2].mean()
                        for x, y, d in zip(mine["x"], mine["y"], mine["diameter_px"])])), 3)
            if carbon is not None:
                row.update(carbon_fraction=round(float(carbon.mean()), 3),
                           carbon_masked=round(float(mask[carbon].mean()), 3),
                           hole_masked=round(float(mask[~carbon].mean()), 3))
            rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    table = pd.DataFrame(rows)
    out = {"micrographs": len(table), "masked_fraction": round(float(table["masked_fraction"].mean()), 4),
           "particles": int(table["n_particle"].sum()),
           "particles_in_mask": round(float(table["particle_in_mask"].sum() / max(table["n_particle"].sum(), 1)), 4)}
    for kind in JUNK_KINDS:
        if table[f"n_{kind}"].sum():
            out[f"{kind}_in_mask"] = round(float(table[f"{kind}_in_mask"].sum() / table[f"n_{kind}"].sum()), 3)
    if "ice_area_covered" in table and table["ice_area_covered"].notna().any():
        out["ice_area_covered"] = round(float(table["ice_area_covered"].mean()), 3)
    if "carbon_masked" in table and table["carbon_masked"].notna().any():
        carbon = table.dropna(subset=["carbon_masked"])
        out.update(carbon_micrographs=len(carbon), carbon_masked=round(float(carbon["carbon_masked"].mean()), 3),
                   carbon_masked_min=round(float(carbon["carbon_masked"].min()), 3),
                   hole_masked=round(float(carbon["hole_masked"].mean()), 3))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--structures", nargs="+", default=["dumbbell", "globular", "ring7"])
    parser.add_argument("--n-micrographs", type=int, default=6)
    parser.add_argument("--size", type=int, default=1536)
    parser.add_argument("--apix", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS))
    parser.add_argument("--ucsf-diameters", type=float, nargs="+", default=[46.0, 36.0, 56.0])
    parser.add_argument("--real", nargs="*", default=["epu2.9_example.mrc", "fei-extended.mrc"])
    parser.add_argument("--real-diameters", type=float, nargs="+", default=[100.0, 150.0, 200.0])
    parser.add_argument("--no-figure", action="store_true", help="do not write docs/junk_regions_ucsf.png")
    parser.add_argument("--json", type=Path, default=RESULTS / "junk_regions.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.structures, args.n_micrographs, args.size, args.apix = args.structures[:1], 2, 768, 4.0
        args.ucsf_diameters, args.real, args.real_diameters = args.ucsf_diameters[:1], args.real[:1], [150.0]
        if args.json == RESULTS / "junk_regions.json":
            args.json = RESULTS / "junk_regions_quick.json"
    config = JunkRegionConfig()
    report: dict = {"benchmark": "junk_regions", "config": asdict(config),
                    "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    if UCSF.is_dir():
        report["ucsf"] = ucsf(args, config)
        print(pd.DataFrame(report["ucsf"]).to_string(index=False), flush=True)
    if REAL.is_dir() and args.real:
        report["real"] = real(args, config)
        print(pd.DataFrame(report["real"]).to_string(index=False), flush=True)
    for condition in args.conditions:
        rows = [row for structure in args.structures for row in simulated(args, config, structure, condition)]
        groups = {f"{image} / {structure}": summary([r for r in rows if r["image"] == image
                                                     and structure in ("all", r["structure"])])
                  for image in ("junk_region_mask", "fcn_image") for structure in ("all", *args.structures)
                  if structure == "all" or len(args.structures) > 1}
        report[f"simulated_{condition}"] = {"rows": rows, "summary": groups}
        print(f"\nsimulated: {condition}")
        print(pd.DataFrame(groups).T.to_string(), flush=True)
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
