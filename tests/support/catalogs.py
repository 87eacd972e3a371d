"""A changed scope catalog for one block of a test: a downstream API's rows (PI_EXTRA_SCOPES_FILE), every
cache that depends on the catalog cleared on the way in and out."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import config
from chalicelib.tokens import catalog, policy, stored_policy

CATALOG_CACHES: tuple[Any, ...] = (
    catalog.routes,
    catalog.scope_levels,
    policy.plan,
    policy.globs,
    stored_policy.catalog_source,
    stored_policy.version,
    stored_policy._zdict,
)


@contextlib.contextmanager
def extra_catalog(
    monkeypatch: pytest.MonkeyPatch, path: Path, also_clear: tuple[Callable[..., Any], ...] = ()
) -> Iterator[None]:
    """`also_clear`: a test's own caches built from the catalog."""
    caches = (*CATALOG_CACHES, *also_clear)
    monkeypatch.setattr(config, "settings", config.settings._replace(extra_scopes_file=str(path)))
    for cached in caches:
        cached.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        for cached in caches:
            cached.cache_clear()
