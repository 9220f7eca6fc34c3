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

Given a cache directory, the first import also keeps the ``(name, module, class)`` of every
estimator ``all_estimators`` found in a file named after the scikit-learn and skops versions;
later imports answer skops' one ``all_estimators()`` call from that file (skops only reads each
class's module and name), so a cold ``ml predict`` imports neither the public scikit-learn modules
its model does not use nor their dependencies. A missing, unreadable or malformed file (every
name is checked whole) means the scan runs again.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import os
import pkgutil
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

_FALLBACK_IGNORED = frozenset({"tests", "externals", "setup", "conftest", "experimental", "estimator_checks"})
_lock = threading.Lock()
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE = re.compile(r"sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+")


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


def _versions_key() -> str:
    from importlib.metadata import version

    return f"sklearn-{version('scikit-learn')}-skops-{version('skops')}"


def estimator_names_file(cache_dir: Path) -> Path:
    """Where the estimator names of this scikit-learn and skops are kept in ``cache_dir``."""
    return cache_dir / f"skops-estimators-{_versions_key()}.json"


def _read_names(path: Path) -> list[tuple[str, str, str]] | None:
    """The cached ``(name, module, class)`` triples, or ``None`` when absent or not well formed."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entries, list) or not entries:
        return None
    triples = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(p, str) for p in entry)):
            return None
        name, module, qualname = entry
        if not (_NAME.fullmatch(name) and _MODULE.fullmatch(module) and _NAME.fullmatch(qualname)):
            return None
        triples.append((name, module, qualname))
    return triples


def _write_names(path: Path, estimators: list[tuple[str, type]]) -> None:
    _write_json(path, [[name, cls.__module__, cls.__name__] for name, cls in estimators])


def _write_json(path: Path, entries: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        return  # a read-only cache only costs the scan next time


def _stand_ins(triples: list[tuple[str, str, str]]) -> list[tuple[str, type]]:
    # skops reads only each class's module and name (``get_type_name``) from ``all_estimators``
    return [(name, type(qualname, (), {"__module__": module})) for name, module, qualname in triples]


_DOTTED = re.compile(r"(numpy|scipy)(\.[A-Za-z_][A-Za-z0-9_]*)+")


def public_type_names_file(cache_dir: Path) -> Path:
    """Where skops' public ufunc type names of this numpy, scipy and skops are kept."""
    from importlib.metadata import version

    key = f"numpy-{version('numpy')}-scipy-{version('scipy')}-skops-{version('skops')}"
    return cache_dir / f"skops-public-types-{key}.json"


def _kind(module: ModuleType, oftype: type) -> str:
    return f"{module.__name__}:{oftype.__module__}.{oftype.__qualname__}"


def _read_public_names(path: Path) -> dict[str, list[str]] | None:
    """The cached names by ``module:type``, or ``None`` when absent or not well formed."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entries, dict) or not entries:
        return None
    for kind, names in entries.items():
        if not (isinstance(kind, str) and isinstance(names, list)):
            return None
        if not all(isinstance(n, str) and _DOTTED.fullmatch(n) for n in names):
            return None
    return entries


def _resolves_to(names: list[str], oftype: type) -> bool:
    """Whether every ``module.attribute`` of ``names`` is an object of ``oftype`` (no scan)."""
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core, as skops reports it
        for name in names:
            module_name, _, attribute = name.rpartition(".")
            try:
                found = getattr(importlib.import_module(module_name), attribute)
            except (ImportError, AttributeError):
                return False
            if not issubclass(found.__class__, oftype):
                return False
    return True


def cached_public_type_names(
    original: Callable[[ModuleType, type], list[str]], cached: dict[str, list[str]] | None
) -> tuple[Callable[[ModuleType, type], list[str]], dict[str, list[str]]]:
    """skops' ``get_public_type_names`` answered from ``cached`` where each cached name still
    resolves to an object of the asked type, and what it had to compute (to be kept).

    skops names each ufunc by searching every loaded module for it (``whichmodule``): about 150,000
    ``getattr`` calls for numpy's and scipy.special's ufuncs, a second of a cold ``ml predict`` on a
    busy machine.
    """
    computed: dict[str, list[str]] = {}

    def get_public_type_names(module: ModuleType, oftype: type) -> list[str]:
        kind = _kind(module, oftype)
        names = (cached or {}).get(kind)
        if names is not None and _resolves_to(names, oftype):
            return list(names)
        computed[kind] = original(module, oftype)
        return computed[kind]

    return get_public_type_names, computed


def _answer_public_names(
    utils: ModuleType, kept: dict[str, list[str]] | None, computed: dict[str, list[str]]
) -> Callable[[], None]:
    """Make ``skops.io._utils.get_public_type_names`` answer from ``kept``; the undo."""
    original = utils.get_public_type_names
    answer, found = cached_public_type_names(original, kept)
    utils.get_public_type_names = answer

    def restore() -> None:
        utils.get_public_type_names = original
        computed.update(found)

    return restore


class _AfterLoad(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after module ``name`` is first executed, before any module
    that imports it from it sees it (``skops.io``'s package imports its trusted types at once)."""

    def __init__(self, name: str, patch: Callable[[ModuleType], Callable[[], None]]) -> None:
        self.name = name
        self.patch = patch
        self._undo: Callable[[], None] | None = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader, hook = spec.loader, self

        class Patching(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: ModuleType) -> None:
                loader.exec_module(module)  # type: ignore[attr-defined]
                hook._undo = hook.patch(module)

        spec.loader = Patching()
        return spec

    def restore(self) -> None:
        """Undo the patch (the module keeps skops' own function afterwards)."""
        if self._undo is not None:
            self._undo()
            self._undo = None


def import_skops_io(cache_dir: Path | None = None) -> ModuleType:
    """``skops.io``, imported without the scikit-learn packages its trusted-type scan never uses.

    With ``cache_dir``, the names ``all_estimators`` returns are kept there (one file per
    scikit-learn and skops version) after the first scan, and later imports build skops' trusted
    type names from that file instead of importing every public scikit-learn module.
    """
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with _lock:
        import sklearn.utils

        cached = _read_names(estimator_names_file(cache_dir)) if cache_dir is not None else None
        original_all: Any = sklearn.utils.all_estimators
        scanned: list[tuple[str, type]] = []

        def all_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
            if type_filter is None and cached is not None:
                return _stand_ins(cached)
            found: list[tuple[str, type]] = original_all(type_filter)
            if type_filter is None:
                scanned[:] = found
            return found

        public_file = public_type_names_file(cache_dir) if cache_dir is not None else None
        kept = _read_public_names(public_file) if public_file is not None else None
        computed: dict[str, list[str]] = {}
        utils_hook = _AfterLoad("skops.io._utils", lambda m: _answer_public_names(m, kept, computed))
        original_walk: Any = pkgutil.walk_packages
        pkgutil.walk_packages = pruned_walk(original_walk, _ignored_parts())
        sklearn.utils.all_estimators = all_estimators
        sys.meta_path.insert(0, utils_hook)
        try:
            import skops.io
        finally:
            pkgutil.walk_packages = original_walk
            sklearn.utils.all_estimators = original_all
            sys.meta_path.remove(utils_hook)
            utils_hook.restore()
        if cache_dir is not None and cached is None and scanned:
            _write_names(estimator_names_file(cache_dir), scanned)
        if public_file is not None and computed:
            _write_json(public_file, {**(kept or {}), **computed})
    module: ModuleType = skops.io
    return module


def estimator_cache_dir(data_dir: Path) -> Path:
    """The cache directory of the estimator names under the SDK's data directory."""
    return data_dir / "cache"
