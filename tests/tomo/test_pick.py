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
