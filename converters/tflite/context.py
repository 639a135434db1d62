"""What every op lowering shares: the values built so far, constants, shapes, and the op registry.

A lowering is ``fn(ctx, node) -> list of TF values`` registered with :func:`lowers`. Activations are
Keras tensors; rank-4 ones are NHWC (see :mod:`.layout`). Constants stay numpy arrays until an op
embeds them, so lowerings can inspect them (a +-1 filter, a per-channel scale) before deciding.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx

from .onnx_graph import OnnxGraph

__all__ = ["ConversionError", "Context", "Act", "Lazy", "Lowering", "LOWERINGS", "lowers"]


class ConversionError(ValueError):
    """An ONNX model the converter cannot lower; the message names the node and the op."""


@dataclass(frozen=True)
class Act:
    """A lowered activation: a Keras tensor (NHWC when rank 4) stored reversed along ``frame``
    (NHWC spatial axes; see :mod:`.geometry` for why frames beat REVERSE pairs around each op)."""

    t: Any
    frame: tuple[int, ...] = ()


@dataclass
class Lazy:
    """A value built only if some op reads it as a tensor: the binarization ``Where(x >= t, 1, -1)``
    of a standard export is folded into the conv that reads it, and must not also be emitted."""

    build: Callable[[], Act]


Lowering = Callable[["Context", onnx.NodeProto], list[Any]]
#: (domain, op_type) -> lowering; domain "" is the standard ONNX domain
LOWERINGS: dict[tuple[str, str], Lowering] = {}


def lowers(*op_types: str, domain: str = "") -> Callable[[Lowering], Lowering]:
    def register(fn: Lowering) -> Lowering:
        for op in op_types:
            LOWERINGS[(domain, op)] = fn
        return fn
    return register


@dataclass
class Context:
    graph: OnnxGraph
    tf: Any
    keras: Any
    values: dict[str, Any] = field(default_factory=dict)
    #: per binary conv of the ONNX graph: node name, padding, flipped axes (the report lists them)
    binary_convs: list[dict[str, Any]] = field(default_factory=list)
    extra_ops: Counter = field(default_factory=Counter)
    #: value -> (x, threshold) for GreaterOrEqual(x, constant) (read by Where)
    comparisons: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    #: value -> (x, threshold) for Where(x >= threshold, 1, -1) (read by Conv: a binary conv)
    binarized: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)

    def is_const(self, name: str) -> bool:
        return name in self.graph.constants

    def const(self, node: onnx.NodeProto, i: int) -> np.ndarray:
        name = node.input[i] if i < len(node.input) else ""
        if not name or name not in self.graph.constants:
            raise ConversionError(f"{node.op_type} node {node.name!r}: input {i} must be a constant")
        return self.graph.constants[name]

    def optional_const(self, node: onnx.NodeProto, i: int) -> np.ndarray | None:
        name = node.input[i] if i < len(node.input) else ""
        return self.graph.constants.get(name) if name else None

    def act(self, name: str) -> Act:
        """The lowered activation ``name`` (built now if it was lazy)."""
        try:
            v = self.values[name]
        except KeyError:
            if name in self.graph.constants:
                raise ConversionError(f"{name!r} is a constant where the converter expects an "
                                      f"activation") from None
            raise ConversionError(f"value {name!r} is used before it is computed") from None
        if isinstance(v, Lazy):
            v = self.values[name] = v.build()
        return v

    def in_frame(self, a: Act, frame: tuple[int, ...]) -> Any:
        """``a``'s tensor stored reversed along exactly ``frame`` (one REVERSE if it differs)."""
        toggle = tuple(sorted(set(a.frame) ^ set(frame)))
        if not toggle:
            return a.t
        self.extra_ops["REVERSE_V2"] += 1
        return self.tf.reverse(a.t, axis=list(toggle))

    def plain(self, a: Act) -> Any:
        """``a``'s tensor in the natural (unreversed) frame."""
        return self.in_frame(a, ())

    @staticmethod
    def const_in_frame(value: np.ndarray, frame: tuple[int, ...]) -> np.ndarray:
        """An NHWC-broadcasting constant flipped along the frame's axes where it varies spatially."""
        v = np.asarray(value)
        for axis in frame:
            if v.ndim == 4 and v.shape[axis] > 1:
                v = np.flip(v, axis)
        return np.ascontiguousarray(v)

    def shape(self, name: str) -> tuple[int | None, ...]:
        """The NCHW (ONNX) shape of a value, from shape inference."""
        shape = self.graph.shapes.get(name)
        if shape is None:
            raise ConversionError(f"no inferred shape for {name!r}")
        return shape

    def attrs(self, node: onnx.NodeProto) -> dict[str, Any]:
        return self.graph.attrs(node)

    def fail(self, node: onnx.NodeProto, why: str) -> ConversionError:
        return ConversionError(f"{node.op_type} node {node.name!r}: {why}")
