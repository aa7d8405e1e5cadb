"""The CUDA path, checked and timed against the CPU in one run (for a machine with a GPU).

On simulated 1024x1024 micrographs (some junk), with the bundled general model:

* **agreement**: every micrograph picked on the GPU and on the CPU; the picks matched
  one to one within 1 px, and the largest score difference (float rounding differs
  between devices, so the picks are close, not identical);
* **speed**: seconds per micrograph of `cryopick pick` on each device (best of the
  micrographs after a warm-up one), and the ratio;
* **batch**: `benchmarks/bench_batch.py --device cuda` on ``--n`` micrographs with one
  process (throughput and memory as there).

Without CUDA it says so and stops (exit 0). Prints a table, writes JSON.

    python benchmarks/gpu_check.py              # on a machine with a GPU
    python benchmarks/gpu_check.py --n 200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import RESULTS, write_report


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--micrographs", type=int, default=8)
    parser.add_argument("--n", type=int, default=500, help="micrographs for the batch run")
    parser.add_argument("--json", type=Path, default=RESULTS / "gpu.json")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to check (run this where `nvidia-smi` shows a GPU)")
        return None
    from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn
    from cryopick.pickers.fcn.general import general_model_path
    from cryopick.io.micrographs import read_micrograph
    from cryopick.evaluation.matching import match
    from cryopick.models.checkpoint import load_model
    from cryopick.simulate import SimulationConfig, simulate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        simulate_dataset(out, SimulationConfig.with_presets(n_micrographs=args.micrographs, shape=(1024, 1024),
                                                            apix=2.0, seed=7, junk="some"))
        mics = [read_micrograph(p) for p in sorted((out / "micrographs").glob("*.mrc"))]
        times, picks = {}, {}
        for device in ("cuda", "cpu"):
            loaded = load_model(general_model_path())
            loaded.model.to(device)
            pick_fcn(mics[0], loaded, 120.0, FCNPickConfig(), device)  # warm-up
            seconds = []
            picks[device] = []
            for mic in mics:
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                picks[device].append(pick_fcn(mic, loaded, 120.0, FCNPickConfig(), device))
                if device == "cuda":
                    torch.cuda.synchronize()
                seconds.append(time.perf_counter() - start)
            times[device] = float(np.min(seconds))
        matched = total = 0
        score_diff = 0.0
        for gpu, cpu in zip(picks["cuda"], picks["cpu"]):
            total += max(len(gpu), len(cpu))
            if len(gpu) and len(cpu):
                i, j = match(gpu[["x", "y"]].to_numpy(), cpu[["x", "y"]].to_numpy(), 1.0, gpu["score"].to_numpy())
                matched += len(i)
                score_diff = max(score_diff, float(np.abs(gpu["score"].to_numpy()[i] - cpu["score"].to_numpy()[j]).max()))
        row = {"gpu": torch.cuda.get_device_name(0), "s_per_mic_cuda": round(times["cuda"], 4),
               "s_per_mic_cpu": round(times["cpu"], 4), "cpu_over_cuda": round(times["cpu"] / times["cuda"], 2),
               "picks_matched_within_1px": f"{matched}/{total}", "max_score_difference": score_diff}
    print(" | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_batch

    batch = bench_batch.main(["--n", str(args.n), "--setups", "single", "--device", "cuda",
                              "--json", str(args.json.with_name("batch_gpu.json"))])
    report = {"command": "python benchmarks/gpu_check.py", "agreement_and_speed": row, "batch": batch["rows"]}
    return write_report(args.json, report)


if __name__ == "__main__":
    main()
