"""cryopick.postprocess.clean: rotation-invariant features, clustering, and junk set aside on a synthetic set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from cryopick.postprocess.clean import CleanConfig, clean_picks, cluster_features, particle_boxes, rotation_invariant_features
from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.reports.figures import plot_cluster_averages

APIX, DIAMETER_A = 2.0, 100.0  # 50 px particles
D_PX = DIAMETER_A / APIX


def _synthetic(seed: int, shape: tuple[int, int] = (900, 1100)) -> tuple[Micrograph, pd.DataFrame]:
    """Soft dark discs (particles), small very dark dots and striped patches (carbon-like junk)."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    rows, cols = np.mgrid[:ny, :nx]
    signal = np.zeros(shape)
    kinds, xs, ys = [], [], []
    spots = [(x, y) for y in range(60, ny - 60, 80) for x in range(60, nx - 60, 80)]
    rng.shuffle(spots)
    for i, (x, y) in enumerate(spots):
        x, y = x + rng.uniform(-5, 5), y + rng.uniform(-5, 5)
        r = np.hypot(cols - x, rows - y)
        if i % 10 == 0:  # a dot: 20 A, 15x darker
            signal -= 15.0 * (r < 5)
            kinds.append("dot")
        elif i % 10 == 1:  # a striped patch
            signal += np.where(r < 25, 6.0 * np.sign(np.sin((cols - x) / 3.0)), 0.0)
            kinds.append("stripes")
        else:  # a particle with a lobe, at a random angle
            a = rng.uniform(0, 2 * np.pi)
            signal -= 1.5 * (r < D_PX / 2)
            signal -= 1.0 * (np.hypot(cols - x - 12 * np.cos(a), rows - y - 12 * np.sin(a)) < 8)
            kinds.append("particle")
        xs.append(x)
        ys.append(y)
    image = ndimage.gaussian_filter(signal, 1.5) + rng.normal(0, 1.0, shape)
    mic = Micrograph(f"mic_{seed}", Path(f"/data/mic_{seed}.mrc"), image.astype(np.float32), APIX)
    picks = pd.DataFrame({"micrograph": mic.name, "x": xs, "y": ys, "score": 1.0, "diameter_px": D_PX,
                          "kind": kinds})
    return mic, picks


@pytest.fixture(scope="module")
def dataset() -> tuple[list[Micrograph], pd.DataFrame]:
    pairs = [_synthetic(seed) for seed in range(3)]
    return [m for m, _ in pairs], pd.concat([p for _, p in pairs], ignore_index=True)


def test_features_do_not_change_when_the_box_turns():
    mic, picks = _synthetic(7)
    boxes, d_px = particle_boxes(mic, picks[["x", "y"]].to_numpy()[:20], DIAMETER_A)
    assert boxes.shape[1] == boxes.shape[2] and boxes.shape[1] % 2 == 1
    base = rotation_invariant_features(boxes, d_px)
    for turn in (lambda b: np.rot90(b, 1, axes=(1, 2)), lambda b: b[:, :, ::-1], lambda b: np.rot90(b, 2, axes=(1, 2))):
        np.testing.assert_allclose(rotation_invariant_features(np.ascontiguousarray(turn(boxes)), d_px), base,
                                   rtol=1e-4, atol=1e-4)
    # an arbitrary angle moves them only by interpolation, far less than particles differ from each other
    turned = np.stack([ndimage.rotate(b, 33.0, reshape=False, order=1, mode="nearest") for b in boxes])
    change = np.abs(rotation_invariant_features(turned, d_px) - base).mean()
    spread = np.abs(base - base.mean(axis=0)).mean()
    assert change < 0.5 * spread


def test_clean_sets_junk_aside_and_keeps_the_particles(dataset):
    mics, picks = dataset
    result = clean_picks(mics, picks, DIAMETER_A)
    table = result.picks
    particle = table["kind"] == "particle"
    assert (~table.loc[particle, "junk"]).mean() >= 0.98
    assert table.loc[table["kind"] == "dot", "junk"].mean() >= 0.9
    assert table.loc[table["kind"] == "stripes", "junk"].mean() >= 0.9
    assert len(result.kept) + len(result.rejected) == len(picks)
    assert set(result.kept.columns) >= {"micrograph", "x", "y", "score", "cluster", "distance", "junk"}
    # clusters are numbered by size and the largest is the particles'
    assert result.clusters["n_picks"].is_monotonic_decreasing and not result.clusters["junk"].iloc[0]
    assert result.averages.shape[0] == len(result.clusters)


def test_verdicts_can_be_overruled_by_cluster(dataset):
    mics, picks = dataset
    result = clean_picks(mics, picks, DIAMETER_A)
    junk = int(result.clusters.loc[result.clusters["junk"], "cluster"].iloc[0])
    changed = result.with_verdicts(keep=[junk], reject=[0])
    assert not changed.clusters.set_index("cluster").loc[junk, "junk"]
    assert changed.picks.loc[changed.picks["cluster"] == 0, "junk"].all()
    with pytest.raises(CryopickError, match="no cluster"):
        result.with_verdicts(keep=[99])
    with pytest.raises(CryopickError, match="both kept and rejected"):
        result.with_verdicts(keep=[1], reject=[1])


def test_clean_is_reproducible_and_needs_picks_on_the_micrographs(dataset):
    mics, picks = dataset
    a, b = clean_picks(mics, picks, DIAMETER_A), clean_picks(mics, picks, DIAMETER_A)
    pd.testing.assert_frame_equal(a.picks, b.picks)
    with pytest.raises(CryopickError, match="no pick lies on the micrographs"):
        clean_picks(mics, picks.assign(micrograph="elsewhere"), DIAMETER_A)


def test_few_picks_and_one_cluster():
    x = np.random.default_rng(0).normal(size=(3, 10))
    labels, distance = cluster_features(x, CleanConfig(n_clusters=8))
    assert len(labels) == 3 and np.isfinite(distance).all()
    labels, _ = cluster_features(x, CleanConfig(n_clusters=1))
    assert (labels == 0).all()
    assert cluster_features(np.zeros((0, 10)))[0].size == 0


@pytest.mark.parametrize("bad", [{"box_diameters": 0.5}, {"n_clusters": 0}, {"n_components": 0},
                                 {"junk_distance": 0.0}])
def test_config_rejects_impossible_settings(bad):
    with pytest.raises(CryopickError) as err:
        CleanConfig(**bad)
    assert err.value.fix


def test_cluster_picture(dataset, tmp_path):
    mics, picks = dataset
    result = clean_picks(mics, picks, DIAMETER_A)
    path = plot_cluster_averages(result.averages, result.clusters, tmp_path / "clusters.png", title="t")
    assert path.stat().st_size > 1000
    with pytest.raises(CryopickError):
        plot_cluster_averages(np.zeros((0, 5, 5)), result.clusters.iloc[:0], tmp_path / "none.png")


def test_cli_writes_kept_rejected_and_a_report(tmp_path, capsys):
    from cryopick.cli import main
    from cryopick.io.coords import read_coords
    from cryopick.io.micrographs import write_mrc

    mic, picks = _synthetic(11, shape=(700, 860))  # non-square
    write_mrc(tmp_path / f"{mic.name}.mrc", mic.data, APIX)
    picks.drop(columns="kind").to_csv(tmp_path / "picks.csv", index=False)
    with pytest.raises(SystemExit) as done:
        main(["clean", str(tmp_path / f"{mic.name}.mrc"), "--picks", str(tmp_path / "picks.csv"), "-d", "100",
              "-o", str(tmp_path / "kept.star"), "--rejected", str(tmp_path / "junk.star"), "--report",
              str(tmp_path / "report")])
    assert done.value.code in (0, None)
    capsys.readouterr()
    kept, junk = read_coords(tmp_path / "kept.star"), read_coords(tmp_path / "junk.star")
    assert len(kept) + len(junk) == len(picks)
    dots = picks.loc[picks["kind"] == "dot", ["x", "y"]].to_numpy()
    assert all(np.hypot(*(junk[["x", "y"]].to_numpy() - xy).T).min() < 1 for xy in dots)
    assert {p.name for p in (tmp_path / "report").iterdir()} == {"clusters.csv", "picks_clusters.csv",
                                                                 "clusters.png"}
    # picks on micrographs not given: one line, exit 2
    picks.assign(micrograph="other").drop(columns="kind").to_csv(tmp_path / "other.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["clean", str(tmp_path / f"{mic.name}.mrc"), "--picks", str(tmp_path / "other.csv"), "-d", "100",
              "-o", str(tmp_path / "k2.star")])
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "fix:" in err[0]
