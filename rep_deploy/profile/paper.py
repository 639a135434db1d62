"""The RepBNN paper's OPs tables next to rep-deploy's counts (``rep-deploy profile --paper``).

Table 1 (ReActNet-A before / after RepTran, beta = 2, ImageNet 224x224) and Table 2 (ResNet-20 on
CIFAR-10, the raw model and RepTran's three last-layer solutions) are transcribed from the paper
(shared/seeds, RepBNN); ours come from :func:`rep_deploy.profile.count_ops` on the zoo models, built
on the ``meta`` device (shapes only: counting ReActNet-A costs no arithmetic). Conventions that
reproduce each figure, and why two are needed (docs/design.md section 9):

* Table 1 counts BOPs as binary MACs + the binary convs' pre-tile output elements, and Rep BN in the
  paper's shared-normalization convention, the base's BN x (1/(2 beta) + beta/2)
  (:func:`rep_deploy.profile.bn_flops_paper`); the literal count is shown beside it.
* Table 2 counts BOPs as pure binary MACs.
"""
from __future__ import annotations

from typing import Any

__all__ = ["TABLE1", "TABLE2", "reproduce"]

#: Table 1: FLOPs (x1e7: FC, Conv, BN), BOPs (x1e9), OPs (x1e8, without / with BN)
TABLE1 = {
    "reactnet-a": {"fc": 0.102e7, "conv": 1.084e7, "bn": 1.009e7, "bops": 4.822e9,
                   "ops": 0.872e8, "ops_with_bn": 0.973e8},
    "rep-reactnet-a": {"fc": 0.205e7, "conv": 1.084e7, "bn": 1.261e7, "bops": 4.822e9,
                       "ops": 0.882e8, "ops_with_bn": 1.008e8},
}
#: Table 2: OPs of ResNet-20 (CIFAR-10): raw, and the last-layer solutions 1 / 2 / 3
TABLE2 = {"raw": 1069696, "solution 1": 1070336, "solution 2": 1069696, "solution 3": 1069376}
#: Table 2's solutions as rep-deploy's RepLinear modes (the FC sees beta*64, 64 or 64/beta features)
SOLUTIONS = {"solution 1": "all", "solution 2": "1/beta", "solution 3": "1/beta^2"}


def _count(name: str, **kwargs: Any):
    import torch

    from rep_deploy.profile import count_ops
    from rep_deploy.registry import create_model, get_model_info

    with torch.device("meta"):
        return count_ops(create_model(name, **kwargs), get_model_info(name).input_size)


def reproduce(betas: tuple[int, ...] = (2, 4, 8)) -> dict[str, Any]:
    """Paper vs ours for Tables 1 and 2, and our OPs of Rep-ResNet-20 at several beta (Table 3's).

    Returns:
        ``{"table1": {model: {quantity: {"paper", "ours"}}}, "table2": {column: {"paper", "ours"}},
        "beta_sweep": {beta: {...}}}``; "ours" are exact integers (OPs may be fractional).
    """
    from rep_deploy.profile import bn_flops_paper

    base, rep = _count("reactnet-a"), _count("rep-reactnet-a", beta=2)
    ours1 = {}
    for name, c in (("reactnet-a", base), ("rep-reactnet-a", rep)):
        bn = c.bn_flops if name == "reactnet-a" else bn_flops_paper(base.bn_flops, 2)
        ours1[name] = {"fc": c.fc_macs, "conv": c.conv_macs, "bn": bn, "bops": c.bops,
                       "ops": c.ops(bops="paper"), "ops_with_bn": c.ops(bops="paper") + bn}
        if name == "rep-reactnet-a":
            ours1[name]["bn_literal"] = c.bn_flops
            ours1[name]["ops_with_bn_literal"] = c.ops(with_bn=True, bops="paper")
    table1 = {m: {q: {"paper": TABLE1[m].get(q), "ours": v} for q, v in ours1[m].items()} for m in TABLE1}
    table2 = {"raw": {"paper": TABLE2["raw"], "ours": _count("resnet20").ops()}}
    for column, mode in SOLUTIONS.items():
        table2[column] = {"paper": TABLE2[column], "ours": _count("rep-resnet20", beta=2, fc_mode=mode).ops()}
    sweep = {}
    for b in betas:
        c = _count("rep-resnet20", beta=b)
        sweep[b] = {"ops": c.ops(), "binary_macs": c.binary_macs, "params": c.params,
                    "bn_flops_literal": c.bn_flops}
    return {"table1": table1, "table2": table2, "beta_sweep": sweep}
