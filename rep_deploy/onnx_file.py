"""Read an ONNX file that a user hands to rep-deploy, with one clear error for every bad case.

``onnx.load`` accepts an empty file (an empty ModelProto: "IR 0", no graph) and some damaged ones
without complaint, so a wrong path or an interrupted copy would otherwise surface later as a strange
ONNX Runtime message, or not at all. This module is the one place that turns a path into a model.
"""
from __future__ import annotations

import os

import onnx

__all__ = ["ModelFileError", "read_onnx"]


class ModelFileError(ValueError):
    """The file is missing, empty, truncated or not a valid ONNX model; the message says which."""


def read_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Load ``path`` (weights included, external data not followed) and check that it is a model.

    Raises:
        FileNotFoundError: no such file.
        ModelFileError: a directory, empty, unparsable (truncated, not ONNX) or failing
            ``onnx.checker`` (an incomplete graph); the message names the file and what to do.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise ModelFileError(f"{name} is a directory; give the .onnx file inside it (e.g. {name}/model.onnx)")
    if not os.path.exists(name):
        raise FileNotFoundError(f"{name}: no such file")
    if os.path.getsize(name) == 0:
        raise ModelFileError(f"{name} is empty (0 bytes): re-export or re-copy it")
    try:
        model = onnx.load(name, load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError / RuntimeError on garbage
        raise ModelFileError(f"{name} is not a readable ONNX model ({type(e).__name__}: truncated, "
                             f"or not ONNX); re-export or re-copy it") from None
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid"
        raise ModelFileError(f"{name} is not a complete ONNX model ({first}); re-export or "
                             f"re-copy it") from None
    return model
