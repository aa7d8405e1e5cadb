"""3D inference: tiled equals untiled, the same bytes for any thread count, peaks apart and strongest first."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cryopick.errors import CryopickError  # noqa: E402
from cryopick.tomo.network import TomoFCN  # noqa: E402
from cryopick.tomo.peaks import find_peaks_3d  # noqa: E402
from cryopick.tomo.pick import probability_map, tile_core_vox  # noqa: E402


@pytest.fixture(scope="module")
def network() -> TomoFCN:
    torch.manual_seed(0)
    net = TomoFCN()
    net.eval()
    return net


def test_tiled_inference_equals_untiled(network: TomoFCN) -> None:
    volume = np.random.default_rng(0).normal(size=(23, 37, 41)).astype(np.float32)  # not a multiple of any tile
    with torch.inference_mode():
        whole = torch.sigmoid(network(torch.from_numpy(volume)[None, None]))[0, 0].numpy()
    for tile in (8, 13, 50):
        np.testing.assert_allclose(probability_map(network, volume, tile_vox=tile), whole, rtol=0, atol=2e-6)


def test_the_same_bytes_for_any_thread_count(network: TomoFCN) -> None:
    volume = np.random.default_rng(1).normal(size=(20, 30, 30)).astype(np.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = probability_map(network, volume, tile_vox=10).tobytes()
        torch.set_num_threads(2)
        two = probability_map(network, volume, tile_vox=10).tobytes()
    finally:
        torch.set_num_threads(threads)
    assert one == two


def test_the_memory_cap_sets_the_tile(network: TomoFCN) -> None:
    assert tile_core_vox(network, 256 * 2**20) > tile_core_vox(network, 32 * 2**20) >= 8
    with pytest.raises(CryopickError, match="too small"):
        tile_core_vox(network, 10_000)


def test_peaks_are_apart_and_strongest_first() -> None:
    scores = np.zeros((20, 20, 20), np.float32)
    scores[5, 5, 5], scores[5, 5, 8], scores[15, 15, 15] = 0.9, 0.8, 0.7  # the second is 3 voxels from the first
    zyx, values = find_peaks_3d(scores, 4.0, floor=0.1)
    assert values.tolist() == pytest.approx([0.9, 0.7]) and zyx.tolist() == [[5, 5, 5], [15, 15, 15]]
    zyx, values = find_peaks_3d(scores, 2.0, floor=0.1)
    assert len(values) == 3


def test_a_guarded_model_drops_the_candidates_beside_a_dense_bead(network: TomoFCN) -> None:
    from cryopick.tomo.model_file import TomoModel
    from cryopick.tomo.pick import TomoPickConfig, pick_tomogram
    from cryopick.tomo.scale import WorkingVolume

    volume = np.random.default_rng(2).normal(size=(24, 40, 48)).astype(np.float32)
    volume[12, 20, 24] = -200.0  # one gold-like voxel, far darker than anything else
    work = WorkingVolume(volume, bin=2, diameter_vox=7.0)
    plain = TomoModel(network, diameter_A=140.0, threshold=0.5)
    guarded = TomoModel(network, diameter_A=140.0, threshold=0.5, dense_polarity=-1.0, dense_limit=50.0)
    every = pick_tomogram(plain, work, "t", TomoPickConfig(all_peaks=True))
    kept = pick_tomogram(guarded, work, "t", TomoPickConfig(all_peaks=True))
    unguarded = pick_tomogram(guarded, work, "t", TomoPickConfig(all_peaks=True, dense_guard=False))
    assert unguarded.equals(every)
    # picks are in original voxels: the bead's centre is at 2 * index + 0.5
    reach = np.linalg.norm(every[["z", "y", "x"]].to_numpy() - [24.5, 40.5, 48.5], axis=1) <= 2 * (4 + 1)
    assert reach.any() and (~reach).sum() > 10
    assert len(kept) == int((~reach).sum())
    assert kept[["x", "y", "z", "score"]].to_numpy().tolist() == \
        every.loc[~reach, ["x", "y", "z", "score"]].to_numpy().tolist()


@pytest.mark.parametrize("sections", [2, 3, 7])
def test_a_slab_at_a_time_picks_what_the_whole_volume_does(sections: int) -> None:
    """Slabs thinner than a peak's reach, and tiles thinner in z, still give the whole volume's picks."""
    from cryopick.tomo.model_file import TomoModel
    from cryopick.tomo.pick import TomoPickConfig, pick_tomogram, slab_sections
    from cryopick.tomo.scale import WorkingVolume

    torch.manual_seed(0)
    network = TomoFCN(dilations=(1, 1)).eval()  # a reach of 2: slabs are never thinner than the network's reach

    volume = np.random.default_rng(3).normal(size=(37, 45, 51)).astype(np.float32)
    volume[20, 20, 20] = -300.0  # a bead, so the guard's dense voxels are gathered slab by slab too
    work = WorkingVolume(volume, bin=1, diameter_vox=7.0)
    model = TomoModel(network, diameter_A=70.0, threshold=0.5, dense_polarity=-1.0, dense_limit=50.0)
    whole = pick_tomogram(model, work, "t", TomoPickConfig(all_peaks=True))
    cap = 4 * 45 * 51 * (5 * sections + 2 * network.radius_vox + 6 * 4)
    assert slab_sections(network, 45 * 51, 4, cap) == sections
    assert slab_sections(network, 45 * 51, 4, 1) == network.radius_vox  # the floor, however small the cap
    for tile_cap in (TomoPickConfig().memory_cap_bytes, 2 * 2**20):
        slabs = pick_tomogram(model, work, "t", TomoPickConfig(all_peaks=True, slab_memory_cap_bytes=cap,
                                                               memory_cap_bytes=tile_cap))
        assert len(whole) > 20 and slabs[["tomogram", "x", "y", "z"]].equals(whole[["tomogram", "x", "y", "z"]])
        np.testing.assert_allclose(slabs["score"], whole["score"], rtol=0, atol=2e-6)
    unguarded = pick_tomogram(model, work, "t", TomoPickConfig(all_peaks=True, dense_guard=False))
    assert len(unguarded) > len(whole)


def test_picking_from_the_file_a_slab_at_a_time_equals_the_working_volume(network: TomoFCN, tmp_path) -> None:
    from cryopick.tomo.model_file import TomoModel
    from cryopick.tomo.pick import TomoPickConfig, pick_tomogram
    from cryopick.tomo.scale import working_reader, working_volume
    from cryopick.tomo.volumes import open_tomogram, write_tomogram

    path = write_tomogram(tmp_path / "t.mrc", np.random.default_rng(4).normal(size=(50, 64, 72)), 10.0)
    model = TomoModel(network, diameter_A=70.0, threshold=0.5)
    with open_tomogram(path) as tomo:
        whole = pick_tomogram(model, working_volume(tomo, 70.0), "t", TomoPickConfig(all_peaks=True))
        slabs = pick_tomogram(model, working_reader(tomo, 70.0), "t",
                              TomoPickConfig(all_peaks=True, slab_memory_cap_bytes=4 * 64 * 72 * 60))
    # the tiles differ, so scores may differ in the last bit and swap two near-equal neighbours in the order
    whole, slabs = (t.sort_values(["z", "y", "x"], ignore_index=True) for t in (whole, slabs))
    assert len(whole) > 20 and slabs[["x", "y", "z"]].equals(whole[["x", "y", "z"]])
    np.testing.assert_allclose(slabs["score"], whole["score"], rtol=0, atol=2e-6)
