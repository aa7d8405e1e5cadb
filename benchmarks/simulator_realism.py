"""Does a simulated micrograph look like a real one? Makes docs/simulated_vs_real.png.

Simulates one EPU-like micrograph (4096 x 4096 at 0.667 Å/px, crowded particles, with
ice contamination, a carbon edge, dots and aggregates) and shows it beside the two real
micrographs in ../shared/data/real-micrographs-unlabeled at the same display rule
(each image binned to about 2.7 Å/px, divided by its median, shown over +-3 robust
standard deviations), a zoom of each at full resolution (low-passed to 4 Å for the eye),
their 2D power spectra and their rotationally averaged power spectra.

Also times the simulator (``--time``): one 1024^2 micrograph at 4 Å/px and one 4096^2
at 0.667 Å/px, best of a few runs.

Usage::

    .venv/bin/python benchmarks/simulator_realism.py            # figure + timings
    .venv/bin/python benchmarks/simulator_realism.py --no-time  # figure only
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mrcfile  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.fft  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

from cryopick.simulate.ctf import power_spectrum_1d  # noqa: E402
from _common import RESULTS, write_report  # noqa: E402

from cryopick.simulate import JunkConfig, SimulationConfig, junk_preset, load_structures, simulate_micrograph  # noqa: E402,E501

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real-micrographs-unlabeled"
OUT = ROOT / "docs" / "simulated_vs_real.png"

EPU_LIKE = SimulationConfig(
    n_micrographs=1, shape=(4096, 4096), apix=0.6666, structures=("globular", "ring7", "dumbbell", "small"),
    particle_area_fraction=0.5, touching_fraction=0.25, snr=0.03, mtf_at_nyquist=0.16, defocus_range_um=(2.6, 2.8),
    junk=JunkConfig(ice_per_um2=15.0, dots_per_um2=150.0, aggregates_per_um2=40.0, carbon_edge_probability=1.0),
    seed=10,
)
"""The simulated micrograph of the figure: EPU-like pixel size, defocus (~2.7 µm, fitted to the
real EPU power spectrum), detector MTF and noise level (without junk its standard deviation
per pixel and binned 2-4 times is 7-10 % above the real EPU's, see noise_table); junk rates high so
that one micrograph shows every kind."""


def bin_image(img: np.ndarray, factor: int) -> np.ndarray:
    ny, nx = (s // factor * factor for s in img.shape)
    return img[:ny, :nx].reshape(ny // factor, factor, nx // factor, factor).mean(axis=(1, 3))


def display(img: np.ndarray, k: float = 3.0) -> np.ndarray:
    """Same rule for every image: relative to the median, +-k robust standard deviations."""
    rel = img / np.median(img)
    med = np.median(rel)
    sd = 1.4826 * np.median(np.abs(rel - med))
    return np.clip((rel - med) / (k * sd), -1, 1)


def power_2d(img: np.ndarray, tile: int = 512) -> np.ndarray:
    """Tile-averaged 2D power spectrum (log), centred, relative to its high-frequency median."""
    window = np.outer(np.hanning(tile), np.hanning(tile))
    acc = np.zeros((tile, tile))
    n = 0
    for i in range(0, img.shape[0] - tile + 1, tile // 2):
        for j in range(0, img.shape[1] - tile + 1, tile // 2):
            patch = img[i : i + tile, j : j + tile]
            acc += np.abs(scipy.fft.fft2((patch - patch.mean()) * window)) ** 2
            n += 1
    ps = np.fft.fftshift(acc / n)
    return np.log(ps / np.median(ps))


def read_real(name: str) -> tuple[np.ndarray, float]:
    with mrcfile.open(REAL / name, permissive=True) as mrc:
        return mrc.data.astype(np.float32), float(mrc.voxel_size.x)


def make_figure(out: Path = OUT) -> Path:
    structures = load_structures(EPU_LIKE)
    sim = simulate_micrograph(EPU_LIKE, 0, structures)
    counts = sim.objects["kind"].value_counts()
    kinds = ", ".join(f"{k.replace('_', ' ')} x{v}" for k, v in counts.items())
    panels = [(f"simulated, {EPU_LIKE.apix:.3f} Å/px\n{kinds}", sim.image, EPU_LIKE.apix)]
    if REAL.is_dir():
        for name, label in (("epu2.9_example.mrc", "real EPU"), ("fei-extended.mrc", "real FEI")):
            data, apix = read_real(name)
            panels.append((f"{label} ({name}), {apix:.3f} Å/px", data, apix))
    fig, axes = plt.subplots(4, len(panels), figsize=(6 * len(panels), 23), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1, 1, 0.8]})
    for ax in axes[3, 1:]:
        ax.remove()
    curve_ax = axes[3, 0]
    if len(panels) > 1:
        curve_ax.remove()
        curve_ax = fig.add_subplot(fig.axes[0].get_gridspec()[3, :])
    curves = []
    for col, (title, img, apix) in enumerate(panels):
        factor = max(1, int(round(2.67 / apix)))
        axes[0, col].imshow(display(bin_image(img, factor)), cmap="gray", vmin=-1, vmax=1)
        axes[0, col].set_title(f"{title}\nbinned x{factor} to {apix * factor:.2f} Å/px", fontsize=10)
        size = int(round(700 / apix))  # 700 Å field at full resolution
        y0, x0 = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
        crop = gaussian_filter(img[y0 : y0 + size, x0 : x0 + size], 4.0 / (np.pi * apix))
        axes[1, col].imshow(display(crop), cmap="gray", vmin=-1, vmax=1)
        axes[1, col].set_title("centre, 700 Å across, low-passed to ~4 Å", fontsize=10)
        ps = power_2d(img)
        lo, hi = np.percentile(ps, [5, 99.7])
        axes[2, col].imshow(ps, cmap="gray", vmin=lo, vmax=hi)
        axes[2, col].set_title(f"power spectrum (Nyquist {2 * apix:.2f} Å at the edge)", fontsize=10)
        freq, power = power_spectrum_1d(img / np.mean(img), apix)
        curves.append((title.split(",")[0].split("(")[0].strip(), freq, power))
    for ax in axes[:3].ravel():  # images: no ticks
        ax.set_xticks([])
        ax.set_yticks([])
    for label, freq, power in curves:
        curve_ax.semilogy(freq[2:], power[2:] / np.median(power[-20:]), label=label)
    curve_ax.set_xlabel("spatial frequency (1/Å)")
    curve_ax.set_ylabel("power / level at Nyquist")
    curve_ax.legend(fontsize=10)
    curve_ax.set_title("rotationally averaged power spectra (Thon rings at low frequency; the 3.7 Å water ring "
                       "at 0.27/Å; the falling EPU and simulated curves are the detector MTF)", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=60)
    plt.close(fig)
    return out


def noise_table(bins: tuple[int, ...] = (1, 2, 4, 8, 16)) -> list[dict]:
    """Relative noise (std / mean) per pixel and binned, simulated (no junk) against the real EPU.

    The figure's simulated micrograph without junk, so contamination does not count as
    noise; the real EPU micrograph as recorded. A ratio near 1 means the simulator's
    noise level and its spectrum (through binning) match the microscope's.
    """
    if not REAL.is_dir():
        return []
    clean = replace(EPU_LIKE, junk=junk_preset("none"))
    sim = simulate_micrograph(clean, 0, load_structures(clean)).image
    real, _ = read_real("epu2.9_example.mrc")
    rows = []
    for factor in bins:
        s_sim, s_real = (float(np.std(b) / np.mean(b)) for b in (bin_image(sim, factor), bin_image(real, factor)))
        rows.append({"binning": factor, "simulated_rel_std": round(s_sim, 5), "real_epu_rel_std": round(s_real, 5),
                     "ratio": round(s_sim / s_real, 3)})
    return rows


def time_simulator(repeats: int = 3) -> list[dict]:
    rows = []
    for label, config in (
        ("1024^2 at 4 Å/px", SimulationConfig(n_micrographs=1, shape=(1024, 1024), apix=4.0)),
        ("4096^2 at 4 Å/px", SimulationConfig(n_micrographs=1, shape=(4096, 4096), apix=4.0)),
        ("4096^2 at 0.667 Å/px (figure)", EPU_LIKE),
    ):
        structures = load_structures(config)
        simulate_micrograph(config, 0, structures)  # warm caches
        best = np.inf
        for i in range(repeats):
            start = time.perf_counter()
            simulate_micrograph(config, i + 1, structures)
            best = min(best, time.perf_counter() - start)
        print(f"{label}: {best:.2f} s (best of {repeats})")
        rows.append({"micrograph": label, "seconds": round(best, 3), "repeats": repeats})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-time", action="store_true", help="only make the figure")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--json", type=Path, default=RESULTS / "simulator_realism.json")
    args = parser.parse_args()
    if not args.no_figure:
        print(f"figure: {make_figure(args.out)}")
    noise = noise_table()
    if noise:
        print(pd.DataFrame(noise).to_string(index=False))
    timings = [] if args.no_time else time_simulator()
    write_report(args.json, {
        "benchmark": "simulator_realism",
        "command": "python benchmarks/simulator_realism.py " + " ".join(sys.argv[1:]),
        "noise_vs_real_epu": noise,
        "simulator_seconds": timings,
    })


if __name__ == "__main__":
    main()
