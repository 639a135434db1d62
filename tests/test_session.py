"""``rep_deploy.InferenceSession`` and ``rep-deploy run``: native kernels, input checks, threads."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

import rep_deploy as rd
from rep_deploy import ops
from rep_deploy.cli import main


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep-resnet20")
    return rd.export_model("rep-resnet20", out, options=rd.ExportOptions(reference_images=0)).model_path


def test_native_and_function_bodies_agree(exported: Path) -> None:
    x = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    native = rd.InferenceSession(exported)
    portable = rd.InferenceSession(exported, use_library=False)
    assert native.uses_library and not portable.uses_library
    a, b = native.run(x), portable.run(x)
    assert (a.argmax(1) == b.argmax(1)).all()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert "native kernels" in repr(native)


@pytest.mark.parametrize("bad,message", [
    (np.zeros((2, 3, 32, 32), np.float64), "expected float32 input, got float64"),
    (np.zeros((0, 3, 32, 32), np.float32), "empty batch"),
    (np.zeros((2, 3, 31, 32), np.float32), "axis 2: 31 != 32"),
    (np.zeros((3, 32, 32), np.float32), "expected a 4-D batch"),
    ([[1.0]], "expected a numpy array"),
])
def test_bad_inputs_are_clear_errors(exported: Path, bad, message: str) -> None:
    with pytest.raises(rd.InputError, match=message.replace("(", r"\(")):
        rd.InferenceSession(exported).run(bad)


def test_non_contiguous_batch_is_copied(exported: Path) -> None:
    sess = rd.InferenceSession(exported)
    wide = np.random.default_rng(1).standard_normal((2, 3, 32, 64)).astype(np.float32)
    view = wide[..., ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(sess.run(view), sess.run(np.ascontiguousarray(view)))


def test_four_threads_share_one_session(exported: Path) -> None:
    sess = rd.InferenceSession(exported, threads=2)
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((3, 3, 32, 32)).astype(np.float32) for _ in range(4)]
    expected = [sess.run(b) for b in batches]
    results: dict[tuple[int, int], np.ndarray] = {}

    def worker(t: int) -> None:
        for i in range(6):
            k = (t + i) % 4
            results[(t, i)] = sess.run(batches[k])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 24
    for (t, i), got in results.items():
        np.testing.assert_array_equal(got, expected[(t + i) % 4])


def test_model_with_an_op_the_library_does_not_know(tmp_path: Path) -> None:
    node = helper.make_node("BinaryDense", ["X"], ["Y"], domain=ops.DOMAIN)
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4])  # noqa: E731
    model = helper.make_model(helper.make_graph([node], "g", [vi("X")], [vi("Y")]),
                              opset_imports=ops.opset_imports(), ir_version=ops.IR_VERSION)
    path = tmp_path / "unknown.onnx"
    onnx.save(model, path)
    with pytest.raises(RuntimeError, match="cannot load .*BinaryDense"):
        rd.InferenceSession(path)


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        rd.InferenceSession(tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x01\x02junk")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        rd.InferenceSession(tmp_path / "junk.onnx")


def test_cli_run(exported: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(3).random((2, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    r = CliRunner().invoke(main, ["run", str(exported), "--input", str(tmp_path / "x.npy"),
                                  "--normalize", "--top", "2", "--save", str(tmp_path / "y.npy")])
    assert r.exit_code == 0, r.output
    logits = np.load(tmp_path / "y.npy")
    sess = rd.InferenceSession(exported)
    np.testing.assert_array_equal(logits, sess.run(sess.normalize(x)))
    assert r.output.startswith(f"0: {logits[0].argmax()} (")
    np.save(tmp_path / "bad.npy", x[:, :1])
    r = CliRunner().invoke(main, ["run", str(exported), "--input", str(tmp_path / "bad.npy"), "--normalize"])
    assert r.exit_code != 0 and "expected images shaped (N, 3, H, W)" in r.output
