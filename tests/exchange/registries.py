"""Registries for differential tests: the same engine modules with or without matching's
fast paths (`exchange.matching.register(registry, fast=...)`)."""

from __future__ import annotations

import importlib

from exchange.registry import ENGINE_MODULES, Registry


def registry_of(modules: tuple[str, ...] = ENGINE_MODULES, *, fast: bool = True) -> Registry:
    """A registry of `modules` in order; matching registers its fast paths only if `fast`."""
    registry = Registry()
    for name in modules:
        module = importlib.import_module(name)
        if name == "exchange.matching":
            module.register(registry, fast=fast)
        else:
            module.register(registry)
    return registry
