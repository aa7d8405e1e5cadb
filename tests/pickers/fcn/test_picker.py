"""Picking with the fully convolutional network, and its model file (kind "fcn")."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from cryopick.errors import CryopickError
from cryopick.pickers.fcn.data import FCN_PREPROCESS
from cryopick.pickers.fcn.picker import FCNPickConfig, pick_fcn, probability_map
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import PICK_COLUMNS, check_inside
from cryopick.models import build_model
from cryopick.models.checkpoint import LoadedModel, load_model, save_model
from cryopick.models.fcn import ParticleFCN
from cryopick.preprocess import PreprocessConfig, preprocess

pytestmark = pytest.mark.usefixtures("one_torch_thread")

APIX = 4.0
DIAMETER_A = 100.0  # 25 px at 4 Å/px, 16 px at the working scale
NY, NX = 300, 420
BLOBS_XY = np.array([[30.0, 40.0], [120.0, 35.0], [250.0, 60.0], [395.0, 45.0], [60.0, 150.0],
                     [200.0, 140.0], [330.0, 170.0], [100.0, 270.0], [240.0, 262.0], [405.0, 283.0]])


def _random_fcn(seed: int = 0, stride: int = 1) -> ParticleFCN:
    torch.manual_seed(seed)
    return ParticleFCN.for_diameter(FCN_PREPROCESS.working_diameter_px, channels=8, stride=stride).eval()


def _detector_fcn(gain: float = 2.0, offset: float = 3.0) -> ParticleFCN:
    """A hand-set network: logit = gain * relu(5x5 mean of the input) - offset; rotation symmetric."""
    model = _random_fcn()
    convs = [layer for layer in model.layers if isinstance(layer, torch.nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            conv.weight.zero_()
            conv.bias.zero_()
        convs[0].weight[0, 0] = 1.0 / convs[0].weight[0, 0].numel()
        for conv in convs[1:-2]:
            conv.weight[0, 0, 1, 1] = 1.0
        convs[-2].weight[0, 0, 0, 0] = 1.0
        convs[-1].weight[0, 0, 0, 0] = gain
        convs[-1].bias[0] = -offset
    return model


def _blob_micrograph(seed: int = 0, name: str = "mic_0001") -> Micrograph:
    """Non-square (300 rows x 420 columns) noise with bright Gaussian blobs at BLOBS_XY (original pixels)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:NY, 0:NX]
    data = rng.normal(0.0, 1.0, (NY, NX))
    for x, y in BLOBS_XY:
        data += 2.5 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 4.0 ** 2))
    return Micrograph(name, Path(f"/data/{name}.mrc"), data.astype(np.float32), APIX)


def _save_load(path: Path, model: torch.nn.Module, **overrides) -> LoadedModel:
    options = {"kind": "fcn", "diameter_A": DIAMETER_A, "threshold": 0.5, "preprocess": asdict(FCN_PREPROCESS),
               "min_distance_diameters": 0.5}
    save_model(path, model, **{**options, **overrides})
    return load_model(path)


def _min_distance(picks) -> float:
    xy = picks[["x", "y"]].to_numpy()
    if len(xy) < 2:
        return np.inf
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(dist[:, 1].min())


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> LoadedModel:
    return _save_load(tmp_path_factory.mktemp("models") / "detector.cryopick", _detector_fcn())


@pytest.fixture(scope="module")
def random_model(tmp_path_factory) -> LoadedModel:
    return _save_load(tmp_path_factory.mktemp("models") / "random.cryopick", _random_fcn(3))


# ----------------------------------------------------------------------------- probability_map


def _image(shape: tuple[int, int] = (61, 83), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1.5, shape).astype(np.float32)


@pytest.mark.parametrize("tta", [False, True])
def test_probability_map_is_a_probability_per_pixel(tta):
    image = _image()
    image[0, 0], image[1, 1] = 1e6, -1e6  # clipped like in training, nothing overflows
    prob = probability_map(_random_fcn(), image, tta=tta)
    assert prob.shape == image.shape and prob.dtype == np.float32
    assert np.isfinite(prob).all() and (prob >= 0).all() and (prob <= 1).all()
    assert 0 < prob.min() < prob.max() < 1


def test_probability_map_saturates_without_warnings():
    """Confident networks give logits of +-1000: probabilities 0 and 1, no overflow warning (an error here)."""
    for offset in (1000.0, -1000.0):
        prob = probability_map(_detector_fcn(gain=0.0, offset=offset), _image(), tta=True)
        assert np.isfinite(prob).all()
        assert (prob == (0.0 if offset > 0 else 1.0)).all()


@pytest.mark.parametrize("stride", [1, 2])
def test_probability_map_tiled_equals_untiled(stride):
    model, image = _random_fcn(stride=stride), _image((150, 171))
    whole = probability_map(model, image)
    np.testing.assert_allclose(probability_map(model, image, memory_cap_bytes=model.activation_bytes_per_px() * 2000),
                               whole, rtol=0, atol=1e-6)
    # one pass over the image mirrored past its border by the network's reach
    m = model.margin_px
    mirrored = np.pad(np.clip(image, -5, 5), m, mode="reflect")
    logits = model(torch.from_numpy(mirrored)[None, None])[0, 0].detach().numpy()[m:-m, m:-m]
    np.testing.assert_allclose(whole, 1 / (1 + np.exp(-logits)), rtol=0, atol=1e-6)


_VIEWS = {
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "mirror_x": lambda a: a[:, ::-1],
    "mirror_y": lambda a: a[::-1, :],
    "transpose": lambda a: a.T,
}


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("view", list(_VIEWS))
def test_tta_is_exactly_rotation_and_mirror_equivariant(view, stride):
    turn = _VIEWS[view]
    model, image = _random_fcn(1, stride), _image()
    turned = np.ascontiguousarray(turn(image))
    with_tta = probability_map(model, turned, tta=True)
    np.testing.assert_allclose(with_tta, turn(probability_map(model, image, tta=True)), rtol=0, atol=1e-5)
    # without TTA a random network is not equivariant: the check above can fail
    without = probability_map(model, turned)
    assert np.abs(without - turn(probability_map(model, image))).max() > 0.05


def test_tta_leaves_a_symmetric_network_unchanged():
    model, image = _detector_fcn(gain=1.0, offset=0.5), _image()
    np.testing.assert_allclose(probability_map(model, image, tta=True), probability_map(model, image),
                               rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- pick_fcn


def test_picks_are_where_the_particles_are_in_original_pixels(detector):
    mic = _blob_micrograph()
    picks = pick_fcn(mic, detector)  # the model's threshold, 0.5
    assert list(picks.columns[:5]) == list(PICK_COLUMNS)
    assert len(picks) == len(BLOBS_XY)
    assert (picks["micrograph"] == "mic_0001").all()
    assert picks["diameter_px"].to_numpy() == pytest.approx(DIAMETER_A / APIX)
    dist, index = cKDTree(BLOBS_XY).query(picks[["x", "y"]].to_numpy())
    assert sorted(index) == list(range(len(BLOBS_XY)))  # one pick per particle
    assert dist.max() < 1.5, dist  # working pixels are 1.56 px wide; sub-pixel refinement does better


def test_threshold_zero_keeps_every_candidate(detector):
    mic = _blob_micrograph()
    # these blobs are bright, unlike particles: the darkness guard is not what is tested here
    at_model = pick_fcn(mic, detector, config=FCNPickConfig(contrast_guard_spreads=None))
    every = pick_fcn(mic, detector, config=FCNPickConfig(threshold=0.0, contrast_guard_spreads=None))
    higher = pick_fcn(mic, detector, config=FCNPickConfig(threshold=0.99, contrast_guard_spreads=None))
    assert len(every) > len(at_model) > len(higher)
    assert (at_model["score"] >= 0.5).all() and (every["score"] < 0.5).any()
    # the threshold only cuts the ranked list: the strongest candidates are the same picks
    np.testing.assert_allclose(every.iloc[:len(at_model)][["x", "y", "score"]].to_numpy(),
                               at_model[["x", "y", "score"]].to_numpy())


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_random_network_picks_lie_inside_in_original_pixels(random_model, threshold):
    mic = _blob_micrograph(seed=1)
    picks = pick_fcn(mic, random_model, config=FCNPickConfig(threshold=threshold))
    if threshold == 0.0:
        assert len(picks) > 50
        # candidates cover the whole micrograph, not only the working image's smaller extent
        assert picks["x"].max() > 0.9 * NX and picks["y"].max() > 0.9 * NY
    check_inside(picks, {mic.name: mic.shape})
    assert (picks["x"] >= 0).all() and (picks["x"] < NX).all()
    assert (picks["y"] >= 0).all() and (picks["y"] < NY).all()
    assert (np.diff(picks["score"].to_numpy()) <= 0).all()
    assert ((picks["score"] >= threshold) & (picks["score"] <= 1)).all()


@pytest.mark.parametrize("spacing", [None, 0.5, 1.0, 2.0])
def test_no_two_picks_closer_than_min_distance(random_model, spacing):
    mic = _blob_micrograph(seed=2)
    picks = pick_fcn(mic, random_model, config=FCNPickConfig(threshold=0.0, min_distance_diameters=spacing))
    pre = preprocess(mic, DIAMETER_A, FCN_PREPROCESS)
    min_px = (0.5 if spacing is None else spacing) * DIAMETER_A / APIX
    # sub-pixel refinement moves each pick by up to half a working pixel per axis
    slack = np.sqrt(2) * max(pre.scale_x, pre.scale_y)
    assert _min_distance(picks) >= min_px - slack
    if spacing is not None and spacing >= 1.0:
        closer = pick_fcn(mic, random_model, config=FCNPickConfig(threshold=0.0, min_distance_diameters=0.5))
        assert len(closer) > len(picks)


def test_model_min_distance_is_the_default(tmp_path):
    loaded = _save_load(tmp_path / "m.cryopick", _random_fcn(3), min_distance_diameters=1.5)
    picks = pick_fcn(_blob_micrograph(seed=2), loaded, config=FCNPickConfig(threshold=0.0))
    assert _min_distance(picks) >= 1.5 * DIAMETER_A / APIX - 2 * 1.6


def test_tta_picks_match_for_a_symmetric_network(detector):
    mic = _blob_micrograph()
    plain = pick_fcn(mic, detector)
    tta = pick_fcn(mic, detector, config=FCNPickConfig(tta=True))
    np.testing.assert_allclose(tta[["x", "y", "score"]].to_numpy(), plain[["x", "y", "score"]].to_numpy(),
                               atol=1e-3)


def test_diameter_override_sets_the_pick_diameter(detector):
    picks = pick_fcn(_blob_micrograph(), detector, diameter_A=120.0, config=FCNPickConfig(threshold=0.0))
    assert len(picks) > 0
    np.testing.assert_allclose(picks["diameter_px"].to_numpy(), 120.0 / APIX)


def test_no_candidates_gives_an_empty_table(detector):
    never = replace(detector, model=_detector_fcn(gain=0.0, offset=50.0))
    picks = pick_fcn(_blob_micrograph(), never)
    assert picks.empty and list(picks.columns) == list(PICK_COLUMNS)


def test_patch_classifier_is_refused(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "mlp.cryopick"
    save_model(path, build_model("mlp"), kind="mlp", diameter_A=DIAMETER_A,
               patch_config={"patch_px": 64, "box_diameters": 1.35})
    loaded = load_model(path)
    with pytest.raises(CryopickError, match="patch classifier"):
        pick_fcn(_blob_micrograph(), loaded)


# ----------------------------------------------------------------------------- the model file


@pytest.mark.parametrize("stride", [1, 2])
def test_fcn_model_file_round_trip(tmp_path, stride):
    model = _random_fcn(7, stride)
    preprocess_dict = asdict(PreprocessConfig(working_diameter_px=12.0, highpass_diameters=None))
    path = tmp_path / "models" / "fcn.cryopick"
    save_model(path, model, kind="fcn", arch=model.arch, diameter_A=137.5, threshold=0.35,
               preprocess=preprocess_dict, min_distance_diameters=0.7,
               training={"trainer": "fcn-pu", "history": [{"epoch": 1, "val_risk": np.float32(0.25)}]})
    loaded = load_model(path)
    assert loaded.kind == "fcn" and not loaded.model.training
    assert isinstance(loaded.model, ParticleFCN)
    assert loaded.arch == model.arch
    assert loaded.settings["preprocess"] == preprocess_dict
    assert PreprocessConfig(**loaded.settings["preprocess"]) == PreprocessConfig(working_diameter_px=12.0, highpass_diameters=None)
    assert loaded.settings["min_distance_diameters"] == 0.7
    assert (loaded.threshold, loaded.diameter_A) == (0.35, 137.5)
    assert loaded.training["history"] == [{"epoch": 1, "val_risk": 0.25}]
    image = torch.from_numpy(_image((47, 90)))[None, None]
    with torch.inference_mode():
        assert torch.equal(loaded.model(image), model(image))
    assert loaded.model.margin_px == model.margin_px
    assert loaded.model.stride == stride


def test_fcn_model_file_keeps_the_working_scale(tmp_path):
    """Picking preprocesses as the model was trained: the stored working diameter, not the default 24 px."""
    loaded = _save_load(tmp_path / "m.cryopick", _random_fcn())
    assert PreprocessConfig(**loaded.settings["preprocess"]) == FCN_PREPROCESS
    assert FCN_PREPROCESS != PreprocessConfig()


def test_fcn_model_file_with_wrong_arch_is_refused(tmp_path):
    with pytest.raises(RuntimeError):  # the file must rebuild this network: checked before writing
        save_model(tmp_path / "m.cryopick", _random_fcn(), kind="fcn", arch={"channels": 4}, diameter_A=DIAMETER_A)
    assert not (tmp_path / "m.cryopick").exists()
