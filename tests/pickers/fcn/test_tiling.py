"""predict_tiled equals the untiled network, under any tiling and memory cap."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cryopick.errors import CryopickError
from cryopick.models.fcn import ParticleFCN
from cryopick.pickers.fcn.tiling import DEFAULT_TILE_PX, bytes_per_px, predict_tiled, tile_size


@pytest.fixture(scope="module")
def model() -> ParticleFCN:
    torch.manual_seed(0)
    return ParticleFCN().eval()


def _untiled(model: nn.Module, image: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(image.astype(np.float32))[None, None])[0, 0].numpy()


def _image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


class _CallCounter:
    def __init__(self, model: nn.Module):
        self.shapes: list[tuple[int, ...]] = []
        self.handle = model.register_forward_hook(lambda _m, inp, _o: self.shapes.append(tuple(inp[0].shape)))


@pytest.mark.parametrize(("shape", "tile"), [((300, 517), 64), ((300, 517), 200), ((100, 100), 50),
                                             ((5, 7), 2), ((20, 23), 3), ((1, 90), 7), ((1, 1), 4),
                                             ((41, 260), 10)])
def test_tiled_equals_untiled(model, shape, tile):
    image = _image(shape)
    counter = _CallCounter(model)
    try:
        tiled = predict_tiled(model, image, margin_px=model.margin_px, tile_px=tile)
    finally:
        counter.handle.remove()
    assert tiled.shape == shape and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, _untiled(model, image), rtol=0, atol=1e-5)
    n_tiles = -(-shape[0] // tile) * -(-shape[1] // tile)
    assert len(counter.shapes) == n_tiles


@pytest.mark.parametrize(("shape", "tile"), [((300, 517), 64), ((101, 99), 33), ((20, 23), 3), ((1, 90), 7),
                                             ((1, 1), 4), ((41, 260), 10)])
def test_stride_two_tiled_equals_untiled(shape, tile):
    """Tiles start on even pixels, so the coarse grid is the same in every tile."""
    torch.manual_seed(0)
    model = ParticleFCN.for_diameter(16, stride=2).eval()
    image = _image(shape, seed=3)
    tiled = predict_tiled(model, image, tile_px=tile)
    np.testing.assert_allclose(tiled, _untiled(model, image), rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of the model's stride"):
        predict_tiled(model, image, margin_px=model.margin_px + 1)


def test_too_small_margin_is_not_exact(model):
    """The equality test can fail: a margin below the field radius changes the seams."""
    image = _image((120, 130), seed=1)
    tiled = predict_tiled(model, image, margin_px=model.margin_px - 3, tile_px=40)
    assert np.abs(tiled - _untiled(model, image)).max() > 1e-3


def test_margin_defaults_to_the_models(model):
    image = _image((90, 77), seed=2)
    np.testing.assert_allclose(predict_tiled(model, image, tile_px=25), _untiled(model, image), rtol=0, atol=1e-5)


def test_memory_cap_sets_smaller_tiles_and_stays_exact(model):
    per_px = bytes_per_px(model)
    m = model.margin_px
    big, small = (300 + 2 * m) ** 2 * per_px, (60 + 2 * m) ** 2 * per_px
    assert tile_size(model, m, big) == 300
    assert tile_size(model, m, small) == 60
    image = _image((300, 517), seed=3)
    counter = _CallCounter(model)
    try:
        tiled = predict_tiled(model, image, margin_px=m, memory_cap_bytes=small)
    finally:
        counter.handle.remove()
    assert max(h * w for _n, _c, h, w in counter.shapes) * per_px <= small
    assert len(counter.shapes) == 5 * 9
    np.testing.assert_allclose(tiled, _untiled(model, image), rtol=0, atol=1e-5)
    # with tile_px as well the smaller core wins
    assert _count_tiles(model, image, memory_cap_bytes=small, tile_px=300) == 45
    assert _count_tiles(model, image, memory_cap_bytes=big, tile_px=100) == 3 * 6


def _count_tiles(model: nn.Module, image: np.ndarray, **kwargs) -> int:
    counter = _CallCounter(model)
    try:
        predict_tiled(model, image, **kwargs)
    finally:
        counter.handle.remove()
    return len(counter.shapes)


def test_default_tiles(model):
    assert _count_tiles(model, _image((64, 48))) == 1  # small image: one pass
    assert DEFAULT_TILE_PX == 256
    assert _count_tiles(model, _image((300, 517))) == 2 * 3


def test_cap_too_small_for_one_tile_is_an_actionable_error(model):
    with pytest.raises(CryopickError, match="memory cap"):
        predict_tiled(model, _image((50, 50)), memory_cap_bytes=1000)


def test_generic_model_without_estimate_and_restored_mode():
    torch.manual_seed(4)
    generic = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 5, padding=2))
    generic.train()
    assert bytes_per_px(generic) == 4 * (4 * 26 + 1 + 2)
    image = _image((33, 47), seed=5).astype(np.float64)[:, ::-1]  # float64, not contiguous
    tiled = predict_tiled(generic, image, margin_px=3, tile_px=8)
    assert generic.training
    np.testing.assert_allclose(tiled, _untiled(generic.eval(), np.ascontiguousarray(image)), rtol=0, atol=1e-5)


def test_deterministic_and_bad_arguments(model):
    image = _image((70, 80), seed=6)
    a = predict_tiled(model, image, tile_px=30)
    assert np.array_equal(a, predict_tiled(model, image, tile_px=30))
    for kwargs in ({"tile_px": 0}, {"margin_px": -1}):
        with pytest.raises(ValueError):
            predict_tiled(model, image, **kwargs)
    with pytest.raises(ValueError, match="2D"):
        predict_tiled(model, image[None])


def test_gpu_tiles_fill_a_fixed_memory_cap(monkeypatch) -> None:
    """On CUDA the default cap is a fixed 4 GiB whatever the GPU holds (the tiling must not read machine state)."""
    import torch

    from cryopick.pickers.fcn import tiling

    for free in (6 * 2**30, 100 * 2**30, 2**20):
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None, free=free: (free, 140 * 2**30))
        assert tiling.default_memory_cap("cuda") == tiling.GPU_MEMORY_CAP_BYTES == 4 * 2**30
        assert tiling.default_memory_cap("cuda:0") == tiling.GPU_MEMORY_CAP_BYTES
    assert tiling.default_memory_cap("cpu") == tiling.DEFAULT_MEMORY_CAP_BYTES


@pytest.mark.parametrize("threads", [2, 3])
def test_the_same_bits_on_any_number_of_threads(model, threads):
    """oneDNN sums differently on one thread than on several; tiles run on one intra-op thread each."""
    image = _image((300, 517), seed=7)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = predict_tiled(model, image)
        torch.set_num_threads(threads)
        many = predict_tiled(model, image)
        assert torch.get_num_threads() == threads  # restored after the call
    finally:
        torch.set_num_threads(before)
    assert one.tobytes() == many.tobytes()
