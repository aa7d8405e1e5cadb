"""Batch picking (cryopick.runs.batch and `cryopick pick`): prefetch, processes, Dask, interruption, bad input.

The output of a run must not depend on how it was run: interrupted (even by SIGKILL) and
resumed, spread over local processes, or over a Dask LocalCluster, the picks file is
byte-identical to a clean single-process run's. The run folder itself (resume, settings,
the lock) is tested in test_state.py.
"""

from __future__ import annotations

import signal
import warnings
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cryopick.runs.batch import BatchConfig, default_threads, pick_many
from cryopick.runs.job import PickSpec
from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.runs.state import RunFolder
from tests.cli.test_cli import assert_one_line_error, run_cli
from tests.runs.conftest import DIAMETER_A, _pick


def test_unwritable_output_folder_is_one_line(mics: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    code, err = _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "-o", blocker / "picks.star"], capsys)
    assert_one_line_error(code, err, "not_a_folder", "fix:")
    assert blocker.read_text().startswith("a file")


def test_same_names_in_two_folders_are_refused(mics: Path, tmp_path: Path) -> None:
    spec = PickSpec("log", diameter_A=DIAMETER_A)
    path = sorted(mics.glob("*.mrc"))[0]
    copy = tmp_path / "other" / path.name
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    with RunFolder(tmp_path / "run", {}) as state, pytest.raises(CryopickError, match="same name"):
        list(pick_many(spec, [str(path), str(copy)], state))


def test_prefetch_keeps_order_and_results(mics: Path, tmp_path: Path) -> None:
    spec = PickSpec("log", diameter_A=DIAMETER_A)
    paths = sorted(str(p) for p in mics.glob("*.mrc"))
    runs = []
    for prefetch in (0, 1, 3):
        with RunFolder(tmp_path / f"run{prefetch}", {}) as state:
            runs.append(list(pick_many(spec, paths, state, BatchConfig(prefetch=prefetch))))
    for run in runs:
        assert [r.path for r in run] == paths
        for a, b in zip(run, runs[0]):
            np.testing.assert_array_equal(a.picks[["x", "y", "score"]].to_numpy(), b.picks[["x", "y", "score"]].to_numpy())


def test_default_threads() -> None:
    assert default_threads(BatchConfig(), cores=2) == 1  # one core reads ahead, one runs the network
    assert default_threads(BatchConfig(prefetch=0), cores=2) == 2
    assert default_threads(BatchConfig(workers=4), cores=16) == 4
    assert default_threads(BatchConfig(dask="local"), cores=16) == 1
    with pytest.raises(CryopickError):
        BatchConfig(workers=0)


@pytest.mark.slow
def test_processes_dask_threads_and_load_give_the_single_process_file(mics: Path, tmp_path: Path, capsys) -> None:
    """The bundled general model: the same bytes however it is spread, on any --threads, beside a CPU hog."""
    common = [mics, "--diameter", DIAMETER_A]
    runs = {"single": [], "threads 1": ["--threads", 1], "threads 3": ["--threads", 3],
            "workers": ["--workers", 2], "dask": ["--dask", "local", "--workers", 2]}
    outputs = {}
    for label, extra in runs.items():
        outputs[label] = tmp_path / f"{label.replace(' ', '_')}.star"
        code, err = _pick([*common, *extra, "-o", outputs[label]], capsys)
        assert code == 0, err
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        outputs["loaded"] = tmp_path / "loaded.star"
        code, err = _pick([*common, "--threads", 2, "-o", outputs["loaded"]], capsys)
        assert code == 0, err
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert len(read_coords(outputs["single"])) > 20
    for label, path in outputs.items():
        assert path.read_bytes() == outputs["single"].read_bytes(), label


@pytest.mark.slow
def test_a_running_dask_scheduler_by_address(mics: Path, tmp_path: Path, capsys) -> None:
    """--dask tcp://host:port: a cluster started apart (as on SLURM), each worker resolving --device auto."""
    from distributed import LocalCluster

    common = [mics, "--diameter", DIAMETER_A]
    single, remote = tmp_path / "single.star", tmp_path / "remote.star"
    assert _pick([*common, "-o", single], capsys)[0] == 0
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code, err = _pick([*common, "--dask", cluster.scheduler_address, "-o", remote], capsys)
    assert code == 0, err
    assert remote.read_bytes() == single.read_bytes()


def test_an_unreachable_dask_scheduler_is_an_input_error(mics: Path, tmp_path: Path) -> None:
    spec = PickSpec("log", diameter_A=DIAMETER_A)
    config = BatchConfig(dask="tcp://127.0.0.1:1", dask_timeout_s=1.0)
    with RunFolder(tmp_path / "run", {}) as state, pytest.raises(CryopickError, match="cannot reach the Dask"):
        list(pick_many(spec, [str(p) for p in sorted(mics.glob("*.mrc"))], state, config))


def _signal_mid_run(args: list[str], out: Path, sig: signal.Signals, after_parts: int) -> tuple[int, str]:
    """Run `cryopick pick ARGS -o OUT` as a subprocess; send ``sig`` once ``after_parts`` micrographs are done."""
    parts = out.parent / f"{out.name}.parts" / "parts"
    command = [sys.executable, "-c", "from cryopick.cli import main; main()", "pick", *args, "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and len(list(parts.glob("*.npz"))) < after_parts:
        time.sleep(0.01)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_file(mics: Path, tmp_path: Path, capsys) -> None:
    """SIGKILL in the middle of a run (a subprocess), then the same command again."""
    args = [str(mics), "--diameter", str(DIAMETER_A)]
    clean, killed = tmp_path / "clean.star", tmp_path / "killed.star"
    assert _pick([*args, "-o", clean], capsys)[0] == 0
    _signal_mid_run(args, killed, signal.SIGKILL, after_parts=3)
    done = len(list((tmp_path / "killed.star.parts" / "parts").glob("*.npz")))
    assert 0 < done < 8, f"the run was not killed mid-way ({done} of 8 done)"
    assert not killed.exists()
    code, err = _pick([*args, "-o", killed], capsys)
    assert code == 0, err
    assert killed.read_bytes() == clean.read_bytes()


@pytest.mark.slow
def test_ctrl_c_says_what_is_kept_and_resumes(mics: Path, tmp_path: Path, capsys) -> None:
    """SIGINT mid-way: exit 130, one line saying what is kept; the same command then finishes it."""
    args = [str(mics), "--diameter", str(DIAMETER_A), "--threads", "1"]
    clean, out = tmp_path / "clean.star", tmp_path / "picks.star"
    assert _pick([*args, "-o", clean], capsys)[0] == 0
    code, err = _signal_mid_run(args, out, signal.SIGINT, after_parts=2)
    if code == 0:
        pytest.skip("the run finished before the interrupt arrived")
    assert code == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ") and "run the same command to resume" in err
    assert "Traceback" not in err
    assert _pick([*args, "-o", out], capsys)[0] == 0
    assert out.read_bytes() == clean.read_bytes()


def test_relion_autopick_layout_reads_back(mics: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """--format star into a folder: autopick.star listing <folder>/<mic folder>/<name>_autopick.star."""
    monkeypatch.chdir(tmp_path)
    flat = tmp_path / "picks.star"
    job = Path("AutoPick") / "job001"
    log = [mics, "--method", "log", "--diameter", DIAMETER_A]
    assert _pick([*log, "-o", flat], capsys)[0] == 0
    code, err = _pick([*log, "--format", "star", "-o", job], capsys)
    assert code == 0, err
    files = sorted((job / mics.name).glob("*_autopick.star"))
    assert len(files) == len(list(mics.glob("*.mrc")))
    back = read_coords(job / "autopick.star")
    expected = read_coords(flat)
    assert len(back) == len(expected)
    cols = ["x", "y", "score"]
    key = ["micrograph", "x", "y"]
    np.testing.assert_allclose(back.sort_values(key)[cols].to_numpy(), expected.sort_values(key)[cols].to_numpy(),
                               atol=1e-5)


def test_auto_workers() -> None:
    from cryopick.runs.batch import AUTO_WORKERS_FROM, auto_workers

    assert auto_workers(10, "cpu", cores=8) == 1  # start-up would cost more than it saves
    assert auto_workers(AUTO_WORKERS_FROM, "cpu", cores=8) == 8
    assert auto_workers(5000, "cuda", cores=8) == 1  # one process feeds the GPU
    assert auto_workers(5000, "cpu", dask="tcp://host:8786", cores=8) == 1
    assert auto_workers(3, "cpu", dask="local", cores=8) == 8


def test_report_shows_every_candidate_of_a_pick_run(mics: Path, tmp_path: Path, capsys) -> None:
    """`cryopick report` on a pick run's output histograms all its candidates at its threshold."""
    out = tmp_path / "picks.star"
    assert _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "--threshold", 3.5, "-o", out], capsys)[0] == 0
    n_picks = len(read_coords(out))
    page = tmp_path / "report.html"
    code, _, err = run_cli(["report", "--picks", out, mics, "-o", page], capsys)
    assert code == 0, err
    assert "every candidate from" in err and "threshold 3.5" in err
    text = page.read_text()
    assert f"{n_picks} at threshold 3.5" in text
    assert "candidates on" in " ".join(err.split())


@pytest.mark.parametrize("workers", [1, 2])
def test_skip_bad_leaves_out_bad_micrographs_and_resumes_them(mics: Path, tmp_path: Path, capsys, workers) -> None:
    """--skip-bad: a flat and a NaN micrograph are listed and left out; the rest are picked; fixed, they are picked."""
    import mrcfile

    from cryopick.io.micrographs import write_mrc

    folder = tmp_path / "mics"
    folder.mkdir()
    good = sorted(mics.glob("*.mrc"))[:3]
    for path in good:
        (folder / path.name).write_bytes(path.read_bytes())
    write_mrc(folder / "flat.mrc", np.ones((200, 300), np.float32), 2.0)
    broken = np.random.default_rng(0).normal(size=(200, 300)).astype(np.float32)
    broken[5, 5] = np.nan
    with warnings.catch_warnings():  # mrcfile warns about the NaN it is asked to write
        warnings.simplefilter("ignore", RuntimeWarning)
        with mrcfile.new(folder / "nan.mrc") as mrc:
            mrc.set_data(broken)
            mrc.voxel_size = 2.0
    out = tmp_path / "picks.star"
    log = [folder, "--method", "log", "--diameter", DIAMETER_A, "--workers", workers]
    code, err = _pick([*log, "-o", out], capsys)
    # without --skip-bad the first bad one in input order stops the run, whichever worker fails first
    assert code == 2 and "flat.mrc" in err and "nan.mrc" not in err
    code, err = _pick([*log, "--skip-bad", "-o", out], capsys)
    assert code == 0, err
    text = " ".join(err.split())
    assert "skipped" in text and "flat.mrc" in text and "nan.mrc" in text and "2 micrograph(s) skipped" in text
    assert set(read_coords(out)["micrograph"]) <= {p.stem for p in good}
    with mrcfile.open(folder / "nan.mrc", mode="r+") as mrc:  # fixed
        mrc.data[5, 5] = 0.0
    (folder / "flat.mrc").unlink()
    code, err = _pick([*log, "--skip-bad", "-o", out], capsys)
    assert code == 0, err
    text = " ".join(err.split())
    assert "resuming: 3 of 4" in text and "skipped" not in text
    assert (tmp_path / "picks.star.parts" / "parts" / "nan.npz").exists()
    assert (tmp_path / "picks.star.parts" / "complete").exists()


def test_skip_bad_with_every_micrograph_bad_is_an_error(tmp_path: Path, capsys) -> None:
    from cryopick.io.micrographs import write_mrc

    write_mrc(tmp_path / "flat.mrc", np.ones((200, 300), np.float32), 2.0)
    code, err = _pick([tmp_path / "flat.mrc", "--method", "log", "--diameter", DIAMETER_A, "--skip-bad", "-o",
                       tmp_path / "p.star"], capsys)
    assert code == 2 and "every one of the 1 micrograph(s) is bad input" in " ".join(err.split())


def test_fill_nonfinite_after_a_nan_micrograph_resumes_the_run(mics: Path, tmp_path: Path, capsys) -> None:
    """A run stopped by NaN pixels goes on with --fill-nonfinite: finished micrographs are not picked again."""
    import mrcfile

    folder = tmp_path / "mics"
    folder.mkdir()
    for path in sorted(mics.glob("*.mrc"))[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    broken = np.random.default_rng(1).normal(size=(200, 300)).astype(np.float32)
    broken[7, 7] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with mrcfile.new(folder / "zz_inf.mrc") as mrc:  # sorted last: the others finish first
            mrc.set_data(broken)
            mrc.voxel_size = 2.0
    out = tmp_path / "picks.star"
    log = [folder, "--method", "log", "--diameter", DIAMETER_A, "-o", out]
    code, err = _pick(log, capsys)
    assert code == 2 and "zz_inf.mrc" in err
    code, err = _pick([*log, "--fill-nonfinite"], capsys)
    assert code == 0, err
    assert "resuming: 2 of 3" in " ".join(err.split())


def test_autopick_layout_from_convert_feeds_extract(mics: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    """convert --to star into a folder gives the AutoPick layout; extract reads it through autopick.star."""
    import starfile

    monkeypatch.chdir(tmp_path)
    flat = tmp_path / "picks.star"
    assert _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "-o", flat], capsys)[0] == 0
    code, _, err = run_cli(["convert", flat, "--to", "star", "-o", "AutoPick/job002", "-m", mics], capsys)
    assert code == 0, err
    listing = starfile.read("AutoPick/job002/autopick.star")
    assert {"rlnMicrographName", "rlnMicrographCoordinates"} <= set(listing.columns)
    code, _, err = run_cli(["extract", mics, "--picks", "AutoPick/job002/autopick.star", "--box-size", 48,
                            "-o", "Extract/job003"], capsys)
    assert code == 0, err
    particles = starfile.read("Extract/job003/particles.star")["particles"]
    inside = read_coords(flat)
    assert 0 < len(particles) <= len(inside)


def test_a_failed_task_is_yielded_in_its_place_not_raised_as_it_finishes() -> None:
    """_bounded hands a worker's error back as a value, so pick_many raises the first bad micrograph in input order."""
    from concurrent.futures import Future

    from cryopick.runs.batch import _bounded, _Failed

    def submit(path: str) -> Future:
        future: Future = Future()
        if path.startswith("bad"):
            future.set_exception(CryopickError("unreadable", path=path, fix="replace it"))
        else:
            future.set_result(path)
        return future

    todo = ["good1.mrc", "bad2.mrc", "bad3.mrc", "good4.mrc"]
    outcomes = list(_bounded(submit, todo, 3, lambda futures: (set(futures), set())))
    assert [o.name if isinstance(o, _Failed) else o for o in outcomes] == ["good1.mrc", "bad2", "bad3", "good4.mrc"]
    assert "bad2.mrc" in str(outcomes[1].error)
