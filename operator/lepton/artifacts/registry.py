"""Named model architectures: how a safetensors state_dict becomes a module again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

ModuleFactory = Callable[..., torch.nn.Module]
F = TypeVar("F", bound=ModuleFactory)

architectures: dict[str, ModuleFactory] = {}


def register_architecture(name: str) -> Callable[[F], F]:
    """Register a module class (or factory) under ``name``; its keyword arguments are the manifest's
    ``architectureArgs``. Registering the same factory twice is allowed (modules get re-imported),
    a different one under a taken name is not."""

    def decorate(factory: F) -> F:
        existing = architectures.get(name)
        if existing is not None and _qualname(existing) != _qualname(factory):
            raise ValueError(f"architecture {name!r} is already registered to {_qualname(existing)}")
        architectures[name] = factory
        return factory

    return decorate


def name_of(module: torch.nn.Module) -> str | None:
    """The registered name of ``module``'s class, if it has one."""
    for name, factory in architectures.items():
        if type(module) is factory:
            return name
    return None


def _qualname(factory: ModuleFactory) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"
