"""Read and annotate a .tflite flatbuffer: the op list, LceBconv2d options, sizes, embedded metadata.

Read with TensorFlow's generated schema module (``tensorflow.lite.python.schema_py_generated``) and
flatbuffers' flexbuffer reader for custom-op options, so the op list is the file's own, not what an
interpreter chose to report. rep-deploy's metadata (model name, normalization, class count) travels
inside the file as a TFLite metadata entry named ``rep_deploy``, so ``InferenceSession("x.tflite")``
knows how to normalize images without a sidecar.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TFLiteSummary", "inspect_tflite", "embed_metadata", "METADATA_KEY"]

METADATA_KEY = "rep_deploy"


def _schema() -> Any:
    from ._tf import load

    load()  # TensorFlow's environment (legacy Keras, quiet C++ log) before its first import
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


@dataclass
class TFLiteSummary:
    """What a .tflite file holds."""

    file_bytes: int
    op_histogram: dict[str, int]
    #: one dict per LceBconv2d: its flexbuffer options plus input/output details
    bconvs: list[dict[str, Any]] = field(default_factory=list)
    #: bytes of constant tensors: the bit-packed binary filters vs everything else
    binary_filter_bytes: int = 0
    other_constant_bytes: int = 0
    input_shape: list[int] = field(default_factory=list)
    output_shape: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: one dict per custom-op node, in graph order: {"op", "node", "inputs", "outputs"}, the tensor
    #: types lower-case ("float32", "int32", "int8", "bool"; absent optional inputs left out)
    custom_ops: list[dict[str, Any]] = field(default_factory=list)


def _op_name(schema: Any, code: Any) -> str:
    if code.customCode:
        return code.customCode.decode()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    return names.get(builtin, f"BUILTIN_{builtin}")


def inspect_tflite(data: bytes) -> TFLiteSummary:
    """Op histogram, LceBconv2d options, constant sizes and metadata of a .tflite file.

    Raises:
        ValueError: not a TFLite flatbuffer.
    """
    from flatbuffers import flexbuffers

    schema = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError("not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
        graph = model.subgraphs[0]
    except Exception as e:  # noqa: BLE001 - a cut flatbuffer fails anywhere inside the reader
        raise ValueError(f"a damaged or truncated TFLite file ({type(e).__name__}); re-convert or "
                         f"re-copy it") from None
    names = [_op_name(schema, c) for c in model.operatorCodes]
    type_names = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

    def types(ids: Any) -> list[str]:  # the tensor types of an op's inputs or outputs; -1: absent
        return [type_names.get(graph.tensors[i].type, "?") for i in ids if i >= 0]

    hist: Counter = Counter()
    bconvs = []
    custom = []
    filters: set[int] = set()
    for index, op in enumerate(graph.operators):
        name = names[op.opcodeIndex]
        hist[name] += 1
        if model.operatorCodes[op.opcodeIndex].customCode:
            custom.append({"op": name, "node": index, "inputs": types(op.inputs), "outputs": types(op.outputs)})
        if name == "LceBconv2d":
            options = flexbuffers.Loads(bytes(bytearray(op.customOptions))) if op.customOptions is not None else {}
            filt = graph.tensors[op.inputs[1]]
            out = graph.tensors[op.outputs[0]]
            filters.add(op.inputs[1])
            kind = types(op.outputs[:1])[0]
            bconvs.append({**options, "filter_shape": [int(d) for d in filt.shape],
                           "output": {"int32": "bitpacked", "float32": "float"}.get(kind, kind),
                           "output_shape": [int(d) for d in out.shape]})
    binary = other = 0
    for i, t in enumerate(graph.tensors):
        buf = model.buffers[t.buffer]
        size = len(buf.data) if buf.data is not None else 0
        if size:
            if i in filters:
                binary += size
            else:
                other += size
    meta = {}
    for m in model.metadata or []:
        if m.name and m.name.decode() == METADATA_KEY:
            meta = json.loads(bytes(bytearray(model.buffers[m.buffer].data)).decode())
    return TFLiteSummary(len(data), dict(sorted(hist.items())), bconvs, binary, other,
                         [int(d) for d in graph.tensors[graph.inputs[0]].shape],
                         [int(d) for d in graph.tensors[graph.outputs[0]].shape], meta, custom)


def embed_metadata(data: bytes, metadata: dict[str, Any]) -> bytes:
    """The same model with ``metadata`` (JSON) stored as the TFLite metadata entry ``rep_deploy``."""
    import flatbuffers

    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    buf = schema.BufferT()
    buf.data = list(json.dumps(metadata, sort_keys=True).encode())
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name and m.name.decode() != METADATA_KEY]
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
