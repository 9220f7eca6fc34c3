"""Import ``skops.io`` without importing every package of scikit-learn (and torch with it).

``skops.io`` builds its default trusted types at import time from
``sklearn.utils.all_estimators()``, which walks scikit-learn with ``pkgutil.walk_packages``. That
walk imports every *package* it meets in order to descend into it, including the ones
``all_estimators`` then ignores: the ``tests`` packages and ``sklearn.externals``, whose
``array_api_compat.torch`` imports torch (seconds of a cold ``ml predict``) whenever torch is
installed.

:func:`import_skops_io` imports ``skops.io`` while that one walk (``prefix="sklearn."``) does not
descend into the packages ``all_estimators`` skips anyway: those with a private part (``._``) or
a part it ignores (``tests``, ``externals``, ...). Every module name ``all_estimators`` keeps
lies outside them, so it imports the same public modules and returns the same estimators, and
skops trusts the same types; only the imports it never needed are left out.
"""

from __future__ import annotations

import pkgutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

_FALLBACK_IGNORED = frozenset({"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"})
_lock = threading.Lock()


def _ignored_parts() -> frozenset[str]:
    """The package names ``all_estimators`` skips (its own list when this scikit-learn has one)."""
    try:
        from sklearn.utils.discovery import _MODULE_TO_IGNORE
    except ImportError:  # another layout: the list as of scikit-learn 1.3-1.8
        return _FALLBACK_IGNORED
    return frozenset(_MODULE_TO_IGNORE)


def skipped_by_all_estimators(name: str, ignored: frozenset[str]) -> bool:
    """Whether ``all_estimators`` skips module ``name`` (and so everything below it)."""
    return "._" in name or any(part in ignored for part in name.split("."))


def pruned_walk(
    original: Callable[..., Iterator[pkgutil.ModuleInfo]], ignored: frozenset[str]
) -> Callable[..., Iterator[pkgutil.ModuleInfo]]:
    """``pkgutil.walk_packages`` that, for ``prefix="sklearn."``, lists but does not import or
    descend into the packages ``all_estimators`` skips; any other walk is ``original``'s."""

    def walk(
        path: Iterable[str] | None = None, prefix: str = "", onerror: Callable[[str], object] | None = None
    ) -> Iterator[pkgutil.ModuleInfo]:
        if prefix != "sklearn.":
            yield from original(path, prefix, onerror)
            return
        yield from _walk(path, prefix, onerror, ignored, set())

    return walk


def _walk(
    path: Iterable[str] | None,
    prefix: str,
    onerror: Callable[[str], object] | None,
    ignored: frozenset[str],
    seen: set[str],
) -> Iterator[pkgutil.ModuleInfo]:
    # pkgutil.walk_packages, less the descent into packages whose modules are all skipped
    for info in pkgutil.iter_modules(path, prefix):
        yield info
        if not info.ispkg or skipped_by_all_estimators(info.name, ignored):
            continue
        try:
            __import__(info.name)
        except ImportError:
            if onerror is not None:
                onerror(info.name)
            continue
        except Exception:
            if onerror is None:
                raise
            onerror(info.name)
            continue
        inner = [p for p in getattr(sys.modules[info.name], "__path__", None) or [] if p not in seen]
        seen.update(inner)
        yield from _walk(inner, info.name + ".", onerror, ignored, seen)


def import_skops_io() -> ModuleType:
    """``skops.io``, imported without the scikit-learn packages its trusted-type scan never uses."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with _lock:
        original: Any = pkgutil.walk_packages
        pkgutil.walk_packages = pruned_walk(original, _ignored_parts())
        try:
            import skops.io
        finally:
            pkgutil.walk_packages = original
    module: ModuleType = skops.io
    return module
