"""Load public BNN checkpoints (ReActNet, AdamBNN, Rep_AdamBNN, Bi-Real) and our own, strictly.

A checkpoint from someone else's training code is untrusted input, and a key that silently fails to load
gives a network that runs but is wrong (ReActNet issue #38: a strict=False load gave 15.64% top-1).
So this module:

* reads files with ``torch.load(..., weights_only=True)``: no code from the file runs;
* unwraps ``{'state_dict': ...}`` (what ReActNet / AdamBNN / Rep_AdamBNN's ``save_checkpoint`` writes,
  next to ``epoch``, ``best_top1_acc`` and ``optimizer``), ``{'model': ...}`` and bare state dicts;
* strips DataParallel's ``module.`` prefix;
* reshapes ReActNet / Bi-Real's flat binary weights ``*.weights`` (N, 1) into the model's 4-D
  ``*.weight`` (the flat vector is the C-order flattening of (out, in, kh, kw), which is how that code
  views it back);
* checks every key and shape *before* loading and raises one :class:`CheckpointError` naming every
  missing, unexpected and mis-shaped key, plus the registered model (and beta) the file does fit, if any.

Formats (``LoadReport.format``):
    ``rep_deploy``: written by :func:`save_checkpoint` (carries ``rep_deploy_version``).
    ``reactnet_flat``: flat ``*.weights`` binary weights (ReActNet, Bi-Real Net code).
    ``rep_adambnn``: 4-D ``*.weight`` in a RepTran'd layout (beta > 1; Rep_AdamBNN code).
    ``adambnn``: 4-D ``*.weight`` in a base layout (AdamBNN, ReActNet's own resnet code).
"""
from __future__ import annotations

import math
import os

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rep_deploy.fileio import atomic_output
from rep_deploy.nn import RepBConv2d, ScaledBinaryConv2d

__all__ = ["CheckpointError", "LoadReport", "FORMATS", "load_checkpoint", "save_checkpoint"]

FORMATS: dict[str, str] = {
    "rep_deploy": "rep_deploy.save_checkpoint file",
    "reactnet_flat": "ReActNet / Bi-Real Net code: binary weights flat as *.weights (N, 1)",
    "rep_adambnn": "Rep_AdamBNN code: 4-D *.weight, RepTran'd (beta > 1) layout",
    "adambnn": "AdamBNN code: 4-D *.weight, base (beta = 1) layout",
}

_PREFIX = "module."
_WRAPPERS = ("state_dict", "model")
# Betas tried when looking for a registered model that a mismatched checkpoint does fit.
_HINT_BETAS = (2, 4, 8)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model (message lists every key)."""


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_checkpoint` found and did.

    Attributes:
        source: the file path, or ``"<dict>"``.
        format: one of :data:`FORMATS`.
        num_keys: tensors in the checkpoint's state dict.
        stripped_prefix: keys that carried DataParallel's ``module.`` prefix.
        flat_converted: flat ``*.weights`` tensors reshaped into 4-D ``*.weight``.
        binary_weights: latent weights of the model's binary convs.
        zero_binary_weights: of those, how many are exactly 0. PyTorch's ``sign`` maps them to 0 (the
            public training code), the deployed convention to +1: outputs can differ where they occur.
        binary_weights_are_pm1: every binary weight is exactly +-1 (ReActNet's re-released files are;
            then the mean-|W| scale is 1).
        missing, unexpected: keys not loaded (only possible with ``strict=False``).
        filled: ``num_batches_tracked`` buffers absent from the file (old PyTorch), left at their
            current value; they do not affect inference.
        metadata: the checkpoint's other scalar entries (epoch, best_top1_acc, model, beta, ...).
    """

    source: str
    format: str
    num_keys: int
    stripped_prefix: int = 0
    flat_converted: int = 0
    binary_weights: int = 0
    zero_binary_weights: int = 0
    binary_weights_are_pm1: bool = False
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """A few human-readable lines for the CLI and logs."""
        lines = [f"{self.source}: {self.format} ({FORMATS[self.format]}), {self.num_keys} tensors"]
        if self.stripped_prefix:
            lines.append(f"  stripped '{_PREFIX}' from {self.stripped_prefix} keys")
        if self.flat_converted:
            lines.append(f"  reshaped {self.flat_converted} flat *.weights into 4-D *.weight")
        kind = "exactly +-1" if self.binary_weights_are_pm1 else "latent (real-valued)"
        lines.append(f"  binary weights: {self.binary_weights} {kind}; "
                     f"{self.zero_binary_weights} exactly 0 (deployed as +1)")
        if self.filled:
            lines.append(f"  {len(self.filled)} num_batches_tracked buffers absent, left as they were")
        for what, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                lines.append(f"  NOT loaded ({what}, strict=False): {', '.join(keys)}")
        return "\n".join(lines)


# -- reading ---------------------------------------------------------------------------------------
def _read(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[Any, str]:
    if isinstance(source, Mapping):
        return source, "<dict>"
    path = Path(source)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path}: is a directory, not a file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "unreadable"; cause is chained
        raise CheckpointError(f"checkpoint {path}: cannot be read: {_reason(exc, path)}") from exc
    return obj, str(path)


def _reason(exc: BaseException, path: Path) -> str:
    """One line out of torch.load's (often multi-paragraph) failure."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        detail = " ".join(text.split(marker, 1)[1].strip().split("\n\n")[0].split())
        detail = detail.split(" was not an allowed global")[0]
        if detail.startswith("Unsupported global"):
            return (f"{detail}: the file pickles Python objects, and rep-deploy loads with "
                    f"weights_only=True so that no code from a checkpoint runs")
        return f"corrupted, or not a torch.save file ({detail})"
    if path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(exc, EOFError):
        return "unexpected end of file (truncated?)"
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no message")
    return f"{type(exc).__name__}: {first} (truncated, or not a torch.save file?)"


def _unwrap(obj: Any, label: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split a loaded object into (state dict, scalar metadata)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {label}: holds a {type(obj).__name__}, not a dict "
                              f"(expected a state dict or {{'state_dict': ...}})")
    meta: dict[str, Any] = {}
    sd: Mapping[str, Any] = obj
    for wrapper in _WRAPPERS:
        if isinstance(obj.get(wrapper), Mapping):
            sd = obj[wrapper]
            for k, v in obj.items():
                if k == wrapper:
                    continue
                if k == "optimizer":
                    meta["has_optimizer_state"] = True
                elif isinstance(v, (int, float, str, bool)) or v is None:
                    meta[k] = v
                elif isinstance(v, Tensor) and v.numel() == 1:
                    meta[k] = v.item()
            break
    bad = [k for k, v in sd.items() if not isinstance(v, Tensor)]
    if bad or not sd:
        top = ", ".join(map(str, list(obj)[:8]))
        what = f"non-tensor entries {bad[:8]}" if bad else "no tensors"
        raise CheckpointError(f"checkpoint {label}: no state dict found ({what}; top-level keys: "
                              f"{top}); expected a state dict or a dict with 'state_dict' / 'model'")
    return dict(sd), meta


# -- matching keys and shapes ----------------------------------------------------------------------
@dataclass
class _Plan:
    """How checkpoint keys map onto model keys, and what does not fit."""

    mapping: dict[str, str] = field(default_factory=dict)  # checkpoint key -> model key
    flat: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    misshaped: list[tuple[str, tuple[int, ...], str, tuple[int, ...]]] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)


def _plan(ckpt: Mapping[str, tuple[int, ...]], model: Mapping[str, tuple[int, ...]]) -> _Plan:
    plan = _Plan()
    for key, shape in ckpt.items():
        target = key
        if key not in model and key.endswith(".weights") and key[:-1] in model \
                and key[:-1] not in ckpt:
            target = key[:-1]  # ReActNet / Bi-Real flat binary weight
        if target not in model:
            plan.unexpected.append(key)
            continue
        want = model[target]
        ok = shape == want if target == key else math.prod(shape) == math.prod(want)
        if not ok:
            plan.misshaped.append((key, shape, target, want))
            continue
        plan.mapping[key] = target
        plan.flat += target != key
    loaded = set(plan.mapping.values())
    seen = loaded | {m[2] for m in plan.misshaped}
    nbt = "num_batches_tracked"
    for key in model:
        if key in seen:
            continue
        # Checkpoints from PyTorch < 0.4.1 have BN statistics but no counter: fill only those.
        if key.endswith("." + nbt) and key[: -len(nbt)] + "running_mean" in loaded:
            plan.filled.append(key)
        else:
            plan.missing.append(key)
    return plan


def _shapes(sd: Mapping[str, Tensor]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in sd.items()}


def _describe(model: nn.Module) -> str:
    info = getattr(model, "model_info", None)
    beta = getattr(model, "reptran_beta", None) or (info.beta if info is not None else 1)
    name = info.name if info is not None else type(model).__name__
    return f"{name} (beta={beta})"


def _fitting_models(ckpt: Mapping[str, tuple[int, ...]], model: nn.Module) -> list[str]:
    """Registered models (and betas) whose layout the checkpoint fits exactly.

    Candidates are built on the meta device (no memory, ~0.1 s each). This only feeds a hint
    in an error message, so a candidate that cannot be built is skipped, not reported.
    """
    from rep_deploy.registry import create_model, get_model_info, list_models, takes_beta

    current = _describe(model)
    found: list[str] = []
    for name in list_models():
        betas: tuple[int | None, ...] = _HINT_BETAS if takes_beta(name) else (None,)
        for beta in betas:
            label = f"{name} (beta={beta or get_model_info(name).beta})"
            if label == current:
                continue
            try:
                with torch.device("meta"):
                    cand = create_model(name, beta=beta)
            except (ValueError, RuntimeError, NotImplementedError):
                continue  # e.g. beta does not divide this model's widths
            plan = _plan(ckpt, _shapes(cand.state_dict()))
            if plan.fits:
                found.append(f"`{name}`" + (f" with --beta {beta}" if beta else ""))
            elif plan.missing or plan.unexpected:
                break  # key names do not depend on beta: no other beta can fit either
    return found


def _mismatch_message(label: str, fmt: str, n: int, model: nn.Module, plan: _Plan,
                      meta: Mapping[str, Any], ckpt: Mapping[str, tuple[int, ...]]) -> str:
    info = getattr(model, "model_info", None)
    formats = info.checkpoint_formats if info is not None and info.checkpoint_formats else ()
    expected = "; ".join(f"{f} ({FORMATS.get(f, f)})" for f in formats) or "a matching state dict"
    lines = [f"checkpoint {label} ({n} tensors, looks like {fmt}: {FORMATS[fmt]}) does not fit "
             f"{_describe(model)}, which expects {expected}."]
    if plan.missing:
        lines.append(f"  missing from the checkpoint ({len(plan.missing)}):")
        lines += [f"    {k}" for k in plan.missing]
    if plan.unexpected:
        lines.append(f"  unexpected in the checkpoint ({len(plan.unexpected)}):")
        lines += [f"    {k}" for k in plan.unexpected]
    if plan.misshaped:
        lines.append(f"  wrong shape ({len(plan.misshaped)}):")
        for key, shape, target, want in plan.misshaped:
            where = key if key == target else f"{key} -> {target}"
            lines.append(f"    {where}: checkpoint {tuple(shape)}, model {tuple(want)}")
    if meta.get("model"):
        lines.append(f"  the file says it was saved from {meta['model']} "
                     f"(beta={meta.get('beta', '?')})")
    fits = _fitting_models(ckpt, model)
    if fits:
        lines.append(f"  hint: the checkpoint fits {', '.join(fits)}")
    else:
        lines.append("  hint: no registered model (beta in 1, 2, 4, 8) fits it exactly")
    return "\n".join(lines)


def _detect_format(top: Any, flat: int, model: nn.Module) -> str:
    if isinstance(top, Mapping) and "rep_deploy_version" in top:
        return "rep_deploy"
    if flat:
        return "reactnet_flat"
    rep = any(isinstance(m, RepBConv2d) and m.repeats > 1 for m in model.modules())
    return "rep_adambnn" if rep else "adambnn"


# -- public API ------------------------------------------------------------------------------------
def load_checkpoint(model: nn.Module, source: str | os.PathLike[str] | Mapping[str, Any], *,
                    strict: bool = True) -> LoadReport:
    """Load a checkpoint into ``model`` after checking every key and shape.

    Args:
        model: the network to fill (e.g. ``create_model("rep-reactnet-a")``).
        source: a file path (read with ``weights_only=True``) or an already loaded dict.
        strict: with False, missing / unexpected keys are recorded in the report instead of raising.
            Wrong shapes always raise.

    Returns:
        A :class:`LoadReport`.

    Raises:
        CheckpointError: unreadable file, no state dict inside, or keys/shapes that do not fit (the
            message lists every offending key and the registered model the file does fit).
    """
    top, label = _read(source)
    raw, meta = _unwrap(top, label)
    stripped = sum(k.startswith(_PREFIX) for k in raw)
    sd = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in raw.items()}
    if len(sd) != len(raw):
        raise CheckpointError(f"checkpoint {label}: keys collide after stripping '{_PREFIX}'")
    own = model.state_dict()
    ckpt_shapes = _shapes(sd)
    plan = _plan(ckpt_shapes, _shapes(own))
    fmt = _detect_format(top, plan.flat or any(k.endswith(".weights") for k in sd), model)
    if plan.misshaped or (strict and not plan.fits):
        raise CheckpointError(_mismatch_message(label, fmt, len(sd), model, plan, meta, ckpt_shapes))

    converted = {target: sd[key].reshape(own[target].shape) for key, target in plan.mapping.items()}
    converted.update({k: own[k] for k in plan.filled})
    model.load_state_dict(converted, strict=False)  # everything was checked above

    weights = [m.weight.detach() for m in model.modules() if isinstance(m, ScaledBinaryConv2d)]
    n_bin = sum(w.numel() for w in weights)
    return LoadReport(
        source=label, format=fmt, num_keys=len(sd), stripped_prefix=stripped,
        flat_converted=plan.flat, binary_weights=n_bin,
        zero_binary_weights=int(sum(int((w == 0).sum()) for w in weights)),
        binary_weights_are_pm1=bool(weights) and all(bool((w.abs() == 1).all()) for w in weights),
        missing=tuple(plan.missing), unexpected=tuple(plan.unexpected), filled=tuple(plan.filled),
        metadata=meta)


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], /, **metadata: Any) -> Path:
    """Write ``{'state_dict', 'model', 'beta', 'rep_deploy_version', **metadata}`` to ``path``.

    ``model`` and ``beta`` default to the model's registry name and RepTran factor; pass them to
    override (e.g. for a model not built by ``create_model``). Metadata must be plain values so
    the file loads with ``weights_only=True``. The file is written to a temporary name and renamed,
    so a crash never leaves a truncated checkpoint behind.

    Returns:
        The path written.
    """
    from rep_deploy import __version__

    for reserved in ("state_dict", "rep_deploy_version"):
        if reserved in metadata:
            raise ValueError(f"metadata key {reserved!r} is reserved")
    info = getattr(model, "model_info", None)
    payload: dict[str, Any] = {
        "state_dict": model.state_dict(),
        "model": info.name if info is not None else None,
        "beta": getattr(model, "reptran_beta", None) or (info.beta if info is not None else 1),
        "rep_deploy_version": __version__,
    }
    payload.update(metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save(payload, tmp)
    return path
