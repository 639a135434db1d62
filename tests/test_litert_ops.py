"""rep_deploy.device.litert_ops: the host's view of which LCE ops the bundle's stock LiteRT runs.

The table must name exactly the ops runtimes/litert/ registers (each adapter's ``kOp``), and the
check must name what the adapters refuse: unknown custom ops and other tensor types. (The device tests,
tests/test_litert.py, run every op of the table on LiteRT; tests/test_tflite.py checks a real file
with an int8 output through ``rep-deploy info`` and ``bench``.)
"""
from __future__ import annotations

import re
from pathlib import Path

from rep_deploy.device.litert_ops import LITERT_OPS, litert_gaps

ROOT = Path(__file__).resolve().parents[1]


def test_table_names_the_ops_the_library_registers() -> None:
    register = (ROOT / "runtimes/litert/register.cc").read_text()
    registered = set()
    for source in sorted((ROOT / "runtimes/litert").glob("lce_*.cc")):
        names = re.findall(r'constexpr const char\* kOp = "(\w+)";', source.read_text())
        if names:  # one op per file, added to the options by RepDeployRegisterLceOps
            assert len(names) == 1 and f"{source.stem}_operator()" in register, (source.name, names)
            registered.add(names[0])
    assert registered == set(LITERT_OPS), (registered, set(LITERT_OPS))


def _node(op: str, i: int, inputs: list[str], outputs: list[str]) -> dict:
    return {"op": op, "node": i, "inputs": inputs, "outputs": outputs}


def test_supported_graphs_have_no_gaps() -> None:
    nodes = [_node("LceQuantize", 0, ["float32"], ["int32"]), _node("LceQuantize", 1, ["bool"], ["int32"]),
             _node("LceBconv2d", 2, ["int32", "int32", "float32", "float32"], ["float32"]),
             _node("LceBconv2d", 3, ["int32", "int32", "int32"], ["int32"]),
             _node("LceBMaxPool2d", 4, ["int32"], ["int32"]), _node("LceDequantize", 5, ["int32"], ["float32"]),
             _node("LceQuantize", 6, ["int8"], ["int32"]), _node("LceBconv2d", 7, ["int32"], ["int8"]),
             _node("LceDequantize", 8, ["int32"], ["int8"]), _node("LceDequantize", 9, ["int32"], ["bool"])]
    assert litert_gaps(nodes) == [] and litert_gaps([]) == []


def test_gaps_name_the_op_the_type_and_the_nodes() -> None:
    nodes = [_node("LceBconv2d", 7, ["int32", "int32"], ["int16"]), _node("LceBconv2d", 9, ["int32"], ["int16"]),
             _node("LceQuantize", 2, ["uint8"], ["int32"]), _node("MyOp", 11, ["float32"], ["float32"])]
    assert litert_gaps(nodes) == [
        "LceBconv2d with int16 output (implemented: float32 or int32 or int8): nodes 7, 9",
        "LceQuantize with uint8 input (implemented: bool or float32 or int8): node 2",
        "custom op MyOp (rep-deploy's LiteRT library implements LceQuantize, LceDequantize, LceBconv2d, "
        "LceBMaxPool2d): node 11"]
    many = litert_gaps([_node("X", i, [], []) for i in range(12)])
    assert len(many) == 1 and many[0].endswith("nodes 0, 1, 2, 3, 4, 5, 6, 7 ...")
