"""The shipped demo checkpoints (models/demo/): strict loading, exact accuracy, shared binary cost."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rep_deploy.checkpoint import load_checkpoint
from rep_deploy.models import demo
from rep_deploy.profile import count_ops
from rep_deploy.registry import create_model, get_model_info

CARD_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<beta>\d+) \| (?P<acc>[\d.]+)% \| "
                      r"(?P<correct>\d+)/(?P<total>\d+) \|", re.M)


def _card() -> dict[str, dict[str, str]]:
    text = (demo.checkpoint_path().parent / demo.MODEL_CARD).read_text()
    return {m["name"]: m.groupdict() for m in CARD_ROW.finditer(text)}


def _ckpt(name: str) -> dict:
    return torch.load(demo.checkpoint_path(name), map_location="cpu", weights_only=True)


def test_files_and_test_split() -> None:
    for name in demo.MODELS:
        assert demo.checkpoint_path(name).is_file()
    with pytest.raises(KeyError):
        demo.checkpoint_path("resnet20")
    x, y = demo.load_test_split()
    assert x.dtype == np.float32 and x.shape == (360, 1, 8, 8)
    assert y.dtype == np.int64 and y.shape == (360,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.all(np.round(x * 16) == x * 16)  # digits pixels are sixteenths
    assert np.bincount(y, minlength=10).min() >= 35  # stratified: 35-37 images per class


@pytest.mark.parametrize("name", demo.MODELS)
def test_checkpoint_reproduces_model_card(name: str) -> None:
    ckpt = _ckpt(name)
    beta = 2 if name == demo.DEMO_MODEL else 1
    assert ckpt["model"] == name and ckpt["beta"] == beta
    model = create_model(name, beta=beta) if beta > 1 else create_model(name)
    report = load_checkpoint(model, demo.checkpoint_path(name))  # strict: raises on any mismatch
    assert report.format == "rep_deploy" and not report.missing and not report.unexpected
    x, y = demo.load_test_split()
    with torch.no_grad():
        pred = model.eval()(torch.from_numpy(demo.normalize(x, name))).argmax(1).numpy()
    correct = int((pred == y).sum())
    row = _card()[name]
    assert (correct, len(y)) == (int(row["correct"]), int(row["total"])) == \
        (ckpt["test_correct"], ckpt["test_size"])
    assert f"{100 * correct / len(y):.2f}" == row["acc"] and int(row["beta"]) == beta
    assert correct / len(y) > 0.9


def test_rep_and_base_share_binary_cost() -> None:
    info = get_model_info(demo.DEMO_MODEL)
    assert info.rep_of == demo.BASE_MODEL and info.input_size == (1, 8, 8)
    rep, base = demo.load_model(demo.DEMO_MODEL), demo.load_model(demo.BASE_MODEL)
    cr, cb = count_ops(rep, info.input_size), count_ops(base, info.input_size)
    assert cr.binary_macs == cb.binary_macs == 2_506_752
    assert cr.binary_params == cb.binary_params == 267_264
    assert (_ckpt(demo.DEMO_MODEL)["binary_macs"], _ckpt(demo.BASE_MODEL)["binary_macs"]) == \
        (cr.binary_macs, cb.binary_macs)


def test_test_split_matches_the_training_script() -> None:
    """digits_test.npz is exactly the seeded stratified split, and the registered normalization is
    the digits pixel statistics."""
    datasets = pytest.importorskip("sklearn.datasets")
    selection = pytest.importorskip("sklearn.model_selection")
    digits = datasets.load_digits()
    images = (digits.images.astype(np.float32) / 16.0)[:, None]
    recipe = _ckpt(demo.DEMO_MODEL)["recipe"]
    _, x_te, _, y_te = selection.train_test_split(
        images, digits.target.astype(np.int64), test_size=recipe["test_size"],
        stratify=digits.target, random_state=recipe["split_seed"])
    x, y = demo.load_test_split()
    np.testing.assert_array_equal(x, x_te)
    np.testing.assert_array_equal(y, y_te)
    info = get_model_info(demo.DEMO_MODEL)
    assert info.mean[0] == pytest.approx(images.mean(), abs=1e-4)
    assert info.std[0] == pytest.approx(images.std(), abs=1e-4)
