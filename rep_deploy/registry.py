"""Model registry: ``@register_model`` builders, ``create_model`` and per-model metadata.

Architectures live in ``rep_deploy.models`` (the repo's top-level ``models/``), one file per
architecture; ``rep_deploy.models.__init__`` imports each file explicitly so that no model is dropped
by a missing star-import. Rep variants are registered by the same files, built by RepTran.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from torch import nn

__all__ = ["ModelInfo", "register_model", "create_model", "get_model_info", "list_models",
           "takes_beta", "UnknownModelError"]


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    """What a deployer needs to know about a model besides its weights.

    Zoo models register one; to export your own ``nn.Module``, make one::

        rd.ModelInfo(name="my-bnn", input_size=(3, 32, 32), num_classes=10,
                     mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))

    Attributes:
        name: registry name (``rep-reactnet-a``), or your model's name.
        family: architecture family (``reactnet-a``); a Rep model and its base share it.
        input_size: (C, H, W) of one input image.
        num_classes: classifier outputs.
        mean, std: per-channel input normalization the model was trained with (default: ImageNet's).
        beta: RepTran replication factor (1 for a base model).
        rep_of: name of the base model a Rep model is RepTran'd from (None for base models).
        checkpoint_formats: public training-code formats whose checkpoints load into this model.
        paper: where the architecture comes from.
        extra: free-form notes shown by ``rep-deploy zoo --verbose``.
    """

    name: str
    input_size: tuple[int, int, int]
    num_classes: int
    family: str = "custom"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    beta: int = 1
    rep_of: str | None = None
    checkpoint_formats: tuple[str, ...] = ()
    paper: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Entry:
    builder: Callable[..., nn.Module]
    info: ModelInfo
    takes_beta: bool


_REGISTRY: dict[str, _Entry] = {}


class UnknownModelError(KeyError):
    """An unknown model name; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def register_model(info: ModelInfo, *, takes_beta: bool = False
                   ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under ``info.name``.

    Args:
        info: the model's metadata.
        takes_beta: the builder accepts ``beta=`` (Rep models; ``info.beta`` is the default).
    """

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if info.name in _REGISTRY:
            raise ValueError(f"model {info.name!r} registered twice")
        _REGISTRY[info.name] = _Entry(fn, info, takes_beta)
        return fn

    return wrap


def _ensure_loaded() -> None:
    import rep_deploy.models  # noqa: F401  (registers every architecture)


def _entry(name: str) -> _Entry:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}{hint} (`rep-deploy zoo` lists all "
                                f"{len(_REGISTRY)} models)")
    return _REGISTRY[name]


def list_models(*, module: str | None = None) -> list[str]:
    """Every registered name, sorted; ``module`` keeps those registered by that module (e.g.
    ``"rep_deploy.models.vgg_small"``), which lets a test cover every model of one file."""
    _ensure_loaded()
    return sorted(n for n, e in _REGISTRY.items() if module is None or e.builder.__module__ == module)


def takes_beta(name: str) -> bool:
    """Whether ``create_model(name, beta=...)`` accepts a RepTran factor (Rep and ES models)."""
    return _entry(name).takes_beta


def get_model_info(name: str, beta: int | None = None) -> ModelInfo:
    """Metadata of ``name`` (with ``beta`` filled in for Rep models)."""
    e = _entry(name)
    if beta is not None and e.takes_beta:
        return replace(e.info, beta=beta)
    return e.info


def create_model(name: str, *, beta: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a freshly initialized zoo model in eval mode.

    Args:
        name: registry name, e.g. ``"rep-reactnet-a"``.
        beta: RepTran factor for Rep models (default: the model's own, usually 2). Passing it to a
            base model is an error rather than silently ignored.
        **kwargs: forwarded to the builder (e.g. ``num_classes``).

    Returns:
        The module, with ``model.model_info`` set to its :class:`ModelInfo`.
    """
    e = _entry(name)
    if beta is not None and not e.takes_beta:
        raise ValueError(f"{name} is not a Rep model and takes no beta (try rep-{name})")
    if e.takes_beta:
        kwargs["beta"] = e.info.beta if beta is None else beta
    model = e.builder(**kwargs)
    model.model_info = get_model_info(name, kwargs.get("beta"))  # type: ignore[assignment]
    return model.eval()
