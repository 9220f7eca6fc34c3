"""Safe loading of scikit-learn models with skops: an explicit allow-list of types.

A skops file is a zip whose ``schema.json`` names the module and class of every object it will
build. Before anything is constructed, every named type must be on :data:`TRUSTED_TYPES`; the
file is then loaded with exactly those types trusted. Nothing is ever unpickled.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from motadata_ai.ports.ml import ArtifactRefused, UnsafeArtifact

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # containers and scalars
        "builtins.dict",
        "builtins.list",
        "builtins.tuple",
        "builtins.slice",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "builtins.NoneType",
        "builtins.type",
        # numpy data
        "numpy.ndarray",
        "numpy.dtype",
        "numpy.float64",
        "numpy.float32",
        "numpy.int64",
        "numpy.int32",
        "numpy.intp",
        "numpy.bool_",
        "numpy.str_",
        "numpy.object_",
        "numpy.uint8",
        "numpy.random.mtrand.RandomState",
        "numpy.random._mt19937.MT19937",
        # the preprocessing this trainer builds
        "sklearn.pipeline.Pipeline",
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._label.LabelEncoder",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        # the estimators this trainer offers, and their parts
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.dummy.DummyClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._classes.DecisionTreeRegressor",
        "sklearn.tree._classes.ExtraTreeClassifier",
        "sklearn.tree._tree.Tree",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
    }
)
"""Every type a model of :class:`SklearnTrainer` may hold; anything else is refused."""


def _collect(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        if "__class__" in node:
            found.add(f"{node.get('__module__', '')}.{node['__class__']}")
        for value in node.values():
            _collect(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect(value, found)


def declared_types(data: bytes) -> set[str]:
    """Every ``module.Class`` a skops file declares, read from its schema without building anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ArtifactRefused(f"not a readable skops artifact: {exc}", reason="unreadable") from exc
    found: set[str] = set()
    _collect(schema, found)
    return found


def safe_loads(data: bytes, *, cache_dir: Path | None = None) -> Any:
    """Load a skops artifact after checking every type it declares is trusted.

    ``cache_dir``: where :func:`~motadata_ai.adapters.sklearn.skops_import.import_skops_io` keeps
    scikit-learn's estimator names (``None``: scan them on each cold import).

    Raises :class:`UnsafeArtifact` naming the untrusted types, :class:`ArtifactRefused` when the
    bytes are no skops file.
    """
    from motadata_ai.adapters.sklearn.skops_import import import_skops_io

    sio = import_skops_io(cache_dir)
    untrusted = sorted(declared_types(data) - TRUSTED_TYPES)
    if untrusted:
        raise UnsafeArtifact(
            f"the artifact holds types outside the trusted allow-list: {', '.join(untrusted)}",
            untrusted=tuple(untrusted),
        )
    try:
        flagged = sio.get_untrusted_types(data=data)
        refused = sorted(set(flagged) - TRUSTED_TYPES)
        if refused:
            raise UnsafeArtifact(
                f"skops flags types outside the trusted allow-list: {', '.join(refused)}",
                untrusted=tuple(refused),
            )
        return sio.loads(data, trusted=sorted(flagged))
    except UnsafeArtifact:
        raise
    except Exception as exc:
        raise ArtifactRefused(f"the skops artifact could not be loaded: {exc}", reason="unloadable") from exc
