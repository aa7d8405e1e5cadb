"""Training the report's classifiers: split by particle, SGD schedule, determinism, prediction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cryopick.errors import CryopickError
from cryopick.models import build_model
from cryopick.pickers.patch.train import (
    EpochLog,
    PatchTrainConfig,
    predict_proba,
    split_by_group,
    train_classifier,
)


@dataclass
class FakePatchSet:
    """What train_classifier reads of cryopick.pickers.patch.patches.PatchSet."""

    patches: np.ndarray
    labels: np.ndarray
    groups: np.ndarray


def discs_and_noise(n_particles: int, seed: int = 0, px: int = 64, contrast: float = 0.2) -> FakePatchSet:
    """Particles: a dark disc (1.35 x smaller than the box, jittered) in noise, 4 rotations per
    particle in one group; background: noise alone, one group each. Values clipped to 0..1."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:px, :px] - (px - 1) / 2
    radius = px / 1.35 / 2
    positives = []
    for _ in range(n_particles):
        dx, dy = rng.uniform(-3, 3, 2)
        disc = (xx - dx) ** 2 + (yy - dy) ** 2 <= radius**2
        image = 0.5 + 0.15 * rng.standard_normal((px, px)) - contrast * disc
        positives += [np.rot90(image, k) for k in range(4)]
    negatives = 0.5 + 0.15 * rng.standard_normal((len(positives), px, px))
    patches = np.clip(np.concatenate([np.array(positives), negatives]), 0, 1).astype(np.float32)
    labels = np.r_[np.ones(len(positives)), np.zeros(len(negatives))].astype(np.float32)
    groups = np.r_[np.repeat(np.arange(n_particles), 4), n_particles + np.arange(len(negatives))]
    return FakePatchSet(patches, labels, groups.astype(np.int64))


FAST = {"batch_size": 32, "learning_rate": 3e-3, "device": "cpu"}


@pytest.fixture(scope="module")
def small_set() -> FakePatchSet:
    return discs_and_noise(125)  # 1000 patches


def test_defaults_are_the_reports():
    config = PatchTrainConfig()
    assert (config.model, config.epochs, config.batch_size) == ("mlp", 100, 128)
    assert (config.learning_rate, config.lr_decay, config.momentum) == (1e-3, 1e-4, 0.9)
    assert hash(config) == hash(PatchTrainConfig())


@pytest.mark.parametrize("bad", [{"model": "svm"}, {"epochs": 0}, {"batch_size": 0}, {"learning_rate": -1.0},
                                 {"lr_decay": -1e-4}, {"momentum": 1.0}, {"validation_fraction": 1.0}])
def test_bad_config_is_an_input_error(bad):
    with pytest.raises(CryopickError, match="fix:"):
        PatchTrainConfig(**bad)


def test_split_by_group_keeps_groups_whole_and_the_fraction():
    rng = np.random.default_rng(0)
    groups = np.r_[np.repeat(np.arange(500), 4), 500 + np.arange(2000)]
    labels = np.r_[np.ones(2000), np.zeros(2000)]
    order = rng.permutation(groups.size)  # groups need not be contiguous
    groups, labels = groups[order], labels[order]
    train, val = split_by_group(groups, 0.1, np.random.default_rng(1), labels=labels)
    assert np.array_equal(np.sort(np.r_[train, val]), np.arange(groups.size))
    assert not set(groups[train]) & set(groups[val])
    assert val.size == pytest.approx(400, abs=8)
    assert labels[val].mean() == pytest.approx(0.5, abs=0.02)  # both classes held out
    again = split_by_group(groups, 0.1, np.random.default_rng(1), labels=labels)
    assert np.array_equal(again[1], val)
    other = split_by_group(groups, 0.1, np.random.default_rng(2), labels=labels)
    assert not np.array_equal(other[1], val)


def test_split_by_group_edge_cases():
    groups = np.array([7, 7, 7, 9])
    train, val = split_by_group(groups, 0.0, np.random.default_rng(0))
    assert train.tolist() == [0, 1, 2, 3] and val.size == 0
    train, val = split_by_group(groups, 0.9, np.random.default_rng(0))
    assert train.size and val.size  # a class never loses all its groups to validation
    assert len(set(groups[val])) == 1
    train, val = split_by_group(np.array([3, 3, 3]), 0.5, np.random.default_rng(0))
    assert train.size == 3 and val.size == 0
    with pytest.raises(ValueError):
        split_by_group(groups, 1.0, np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_training_separates_discs_from_noise(small_set, kind):
    logs: list[EpochLog] = []
    result = train_classifier(small_set, PatchTrainConfig(model=kind, epochs=4, seed=0, **FAST), progress=logs.append)
    assert [log.epoch for log in logs] == [1, 2, 3, 4] and logs == result.history
    assert result.history[-1].val_accuracy >= 0.9
    assert result.history[-1].train_loss < result.history[0].train_loss
    assert result.n_train + result.n_val == 1000 and 80 <= result.n_val <= 120
    assert not set(small_set.groups[result.train_index]) & set(small_set.groups[result.val_index])
    assert not result.model.training
    assert next(result.model.parameters()).device.type == "cpu"
    assert result.arch["patch_px"] == 64 and result.kind == kind
    probs = predict_proba(result.model, small_set.patches[result.val_index])
    accuracy = np.mean((probs >= 0.5) == (small_set.labels[result.val_index] > 0.5))
    assert accuracy == pytest.approx(result.history[-1].val_accuracy)


def test_learning_rate_decays_per_update_keras_style(small_set):
    config = PatchTrainConfig(epochs=3, batch_size=100, seed=0, device="cpu")
    result = train_classifier(small_set, config)
    updates_per_epoch = math.ceil(result.n_train / 100)
    for log in result.history:
        t = log.epoch * updates_per_epoch
        assert log.learning_rate == pytest.approx(1e-3 / (1 + 1e-4 * t), rel=1e-9)
    fast_decay = train_classifier(small_set, PatchTrainConfig(epochs=2, batch_size=100, lr_decay=0.5, device="cpu"))
    assert fast_decay.history[1].learning_rate == pytest.approx(1e-3 / (1 + 0.5 * 2 * updates_per_epoch))


def test_first_update_uses_the_initial_rate():
    """One full-batch SGD step without dropout or momentum: w1 = w0 - lr0 * grad (t = 0, no decay yet)."""
    data = discs_and_noise(8, px=16)
    arch = {"input_dropout": 0.0, "dropout": 0.0, "hidden": [8, 8]}
    config = PatchTrainConfig(epochs=1, batch_size=64, learning_rate=0.05, lr_decay=0.5, momentum=0.0,
                              validation_fraction=0.0, seed=3, device="cpu", arch=arch)
    result = train_classifier(data, config)
    torch.manual_seed(3)
    start = build_model("mlp", patch_px=16, **arch)
    loss = F.binary_cross_entropy_with_logits(start(torch.from_numpy(data.patches)).reshape(-1),
                                              torch.from_numpy(data.labels))
    loss.backward()
    for (name, w0), w1 in zip(start.named_parameters(), result.model.parameters()):
        torch.testing.assert_close(w1, w0.detach() - 0.05 * w0.grad, msg=name)
    assert math.isnan(result.history[0].val_accuracy) and result.n_val == 0


def test_same_seed_same_weights_and_global_rng_untouched(small_set):
    subset = FakePatchSet(small_set.patches[::4], small_set.labels[::4], small_set.groups[::4])
    config = PatchTrainConfig(epochs=2, seed=5, **FAST)
    torch.manual_seed(123)
    first = train_classifier(subset, config)
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(3), after)  # training did not consume the caller's random numbers
    second = train_classifier(subset, config)
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    assert [h.train_loss for h in first.history] == [h.train_loss for h in second.history]
    other = train_classifier(subset, PatchTrainConfig(epochs=2, seed=6, **FAST))
    assert not torch.equal(first.model.layers[1].weight, other.model.layers[1].weight)


def test_patch_size_comes_from_the_data():
    data = discs_and_noise(10, px=32)
    result = train_classifier(data, PatchTrainConfig(model="cnn", epochs=1, device="cpu"))
    assert result.arch["patch_px"] == 32
    assert predict_proba(result.model, data.patches).shape == (80,)


def test_summary_is_plain_python(small_set):
    subset = FakePatchSet(small_set.patches[::5], small_set.labels[::5], small_set.groups[::5])
    result = train_classifier(subset, PatchTrainConfig(epochs=2, seed=1, device="cpu"))
    summary = result.summary()
    assert summary["epochs"] == 2 and summary["n_train"] == result.n_train
    assert summary["val_accuracy"] == result.history[-1].val_accuracy
    assert summary["history"]["val_loss"] == [h.val_loss for h in result.history]
    assert summary["config"]["batch_size"] == 128 and summary["config"]["arch"] == {}

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (bool, int, float, str)

    assert plain(summary)


def test_unusable_patch_sets_are_input_errors(small_set):
    only_particles = FakePatchSet(small_set.patches[:40], small_set.labels[:40], small_set.groups[:40])
    with pytest.raises(CryopickError, match="all 40 training examples are particles"):
        train_classifier(only_particles, PatchTrainConfig(epochs=1, device="cpu"))
    empty = FakePatchSet(np.zeros((0, 64, 64), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    with pytest.raises(CryopickError, match="no training examples"):
        train_classifier(empty, PatchTrainConfig(epochs=1, device="cpu"))
    patches = small_set.patches[::50].copy()
    patches[0, 0, 0] = np.nan
    with pytest.raises(CryopickError, match="NaN"):
        train_classifier(FakePatchSet(patches, small_set.labels[::50], small_set.groups[::50]),
                         PatchTrainConfig(epochs=1, device="cpu"))


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_predict_proba_is_the_sigmoid_of_the_logits(kind):
    torch.manual_seed(0)
    model = build_model(kind)
    model.train()
    patches = np.random.default_rng(0).random((150, 64, 64))  # float64: converted per batch
    patches.setflags(write=False)  # read-only views (sliding windows) are accepted without warnings
    probs = predict_proba(model, patches, batch_size=7)
    assert model.training  # mode restored
    assert probs.dtype == np.float32 and probs.shape == (150,)
    assert np.all((probs >= 0) & (probs <= 1))
    model.eval()
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(patches.astype(np.float32)))).numpy().ravel()
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_proba(model, patches[:, None], batch_size=4096), probs, atol=1e-6)
    assert predict_proba(model, patches[:0]).shape == (0,)
    with pytest.raises(ValueError):
        predict_proba(model, patches[0])


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_predict_proba_gives_the_same_bits_on_any_number_of_threads(kind):
    torch.manual_seed(1)
    model = build_model(kind)
    patches = np.random.default_rng(1).random((96, 64, 64)).astype(np.float32)
    before = torch.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            runs.append(predict_proba(model, patches, batch_size=32).tobytes())
    finally:
        torch.set_num_threads(before)
    assert runs[0] == runs[1] == runs[2]
