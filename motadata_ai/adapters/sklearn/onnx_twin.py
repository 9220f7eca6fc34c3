"""The ONNX twin of a scikit-learn model: the same pipeline served by onnxruntime, without
importing scikit-learn, scipy or pandas.

:func:`dumps_onnx` converts a fitted pipeline with skl2onnx when the estimator is linear or a tree
model (:data:`ONNX_ESTIMATORS`), whatever its numeric, categorical and text features, and keeps the
result only when onnxruntime predicts the given records as scikit-learn does (the same labels,
probabilities within :data:`TOLERANCE`; on a row where two classes tie, either label:
:func:`same_labels`). What is left out, and why (measured with skl2onnx 1.20 and onnxruntime
1.32):

* a text column whose ``TfidfVectorizer`` has settings other than those
  :mod:`~motadata_ai.adapters.sklearn.onnx_text` reproduces in NumPy (a twin takes each text
  column as its TF-IDF vector, computed outside the graph: skl2onnx's own TF-IDF conversion
  lowercases through a C++ locale that a machine may lack and tokenises with another regular
  expression engine than Python's).

Numeric inputs stay float64 through the graph: onnxruntime has no float64 ``Imputer``, so the
converted ``Imputer`` node is replaced by ``IsNaN`` and ``Where`` over the same statistics.

Trees (:data:`TREE_ESTIMATORS`) compare as scikit-learn's do
(:mod:`~motadata_ai.adapters.sklearn.onnx_trees`).

:class:`OnnxModel` is the loaded twin; the feature signature and the class labels travel in the
model's metadata. The bytes are verified against the registered SHA-256 before they get here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from motadata_ai.adapters.sklearn.onnx_text import TextColumn, inputs_whole, reproducible, text_as_input
from motadata_ai.adapters.sklearn.onnx_trees import TREE_ESTIMATORS, float32_trees
from motadata_ai.domain.values.ml import FeatureSpec
from motadata_ai.ports.ml import ArtifactRefused, TrainedModel

logger = logging.getLogger(__name__)

ONNX_ESTIMATORS: frozenset[str] = frozenset({"LogisticRegression", "SGDClassifier"}) | TREE_ESTIMATORS
"""The estimators (class names) whose ONNX conversion predicts exactly as scikit-learn does."""
TOLERANCE = 1e-5
"""The largest difference of a probability between the twin and scikit-learn that is accepted."""
FEATURES_KEY = "motadata.features"
CLASSES_KEY = "motadata.classes"
TEXT_KEY = "motadata.text"
ROWS_PER_RUN = 256
"""Records per onnxruntime run: 256 rows of a 5,000-term text column are 10 MB of input."""
_OPSETS = {"": 17, "ai.onnx.ml": 3}


def _feeds(
    records: Sequence[dict[str, Any]], features: Sequence[FeatureSpec], text: Mapping[str, TextColumn]
) -> dict[str, Any]:
    """One input per feature, valued as the direct transform values them: ``(n, 1)`` for a numeric
    or categorical one, a text column's ``(n, terms)`` TF-IDF rows."""
    feeds: dict[str, Any] = {}
    for spec in features:
        if spec.type == "numeric":
            feeds[spec.name] = np.array(
                [[math.nan if r[spec.name] is None else r[spec.name]] for r in records], dtype=np.float64
            )
        elif spec.type == "text":
            feeds[spec.name] = text[spec.name]([str(r[spec.name] or "") for r in records])
        else:
            feeds[spec.name] = np.array([[str(r[spec.name])] for r in records], dtype=object)
    return feeds


def _session(data: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])


class OnnxModel(TrainedModel):
    """A scikit-learn model's ONNX twin on onnxruntime: what :class:`SklearnModel` predicts,
    without scikit-learn."""

    trainer = "sklearn"

    def __init__(self, data: bytes) -> None:
        try:
            self._session = _session(data)
            meta = self._session.get_modelmeta().custom_metadata_map
            self.features = tuple(
                FeatureSpec(name=name, type=kind) for name, kind in json.loads(meta[FEATURES_KEY])
            )
            self._classes = tuple(str(c) for c in json.loads(meta[CLASSES_KEY]))
            states = json.loads(meta.get(TEXT_KEY, "{}"))
            self._text = {name: TextColumn.from_state(state) for name, state in states.items()}
        except Exception as exc:
            raise ArtifactRefused(f"not an ONNX twin of this trainer: {exc}", reason="unloadable") from exc
        inputs = {i.name: i.shape for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        text = {f.name for f in self.features if f.type == "text"}
        if (
            set(inputs) != {f.name for f in self.features}
            or set(self._text) != text
            or any(inputs[name][-1] != len(self._text[name].terms) for name in text)
            or "probabilities" not in outputs
        ):
            raise ArtifactRefused(
                "the ONNX twin's inputs or outputs do not match its signature", reason="unexpected_structure"
            )
        self._size = len(data) + sum(column.size_bytes() for column in self._text.values())

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in probability-column order."""
        return self._classes

    def predict_proba(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """Probabilities from onnxruntime, :data:`ROWS_PER_RUN` records a run (a text column's
        input is dense: a run's rows times the column's terms floats)."""
        result: list[list[float]] = []
        for start in range(0, len(records), ROWS_PER_RUN):
            feeds = _feeds(records[start : start + ROWS_PER_RUN], self.features, self._text)
            (probabilities,) = self._session.run(["probabilities"], feeds)
            result.extend(np.asarray(probabilities, dtype=np.float64).tolist())
        return result

    def size_bytes(self) -> int:
        """The graph's size (its weights are its initialisers) and its text columns' vocabularies."""
        return self._size


def load_onnx(data: bytes) -> OnnxModel | None:
    """The twin on onnxruntime, or ``None`` when onnxruntime is not installed."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    return OnnxModel(data)


def _float64_imputers(graph: Any) -> None:
    """Replace each ``Imputer`` node (float only in onnxruntime) by ``IsNaN`` + ``Where``."""
    from onnx import helper, numpy_helper

    nodes = []
    for node in graph.node:
        if node.op_type != "Imputer":
            nodes.append(node)
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        values = np.array(attributes["imputed_value_floats"], dtype=np.float64).reshape(1, -1)
        statistics, missing = f"{node.name}_statistics", f"{node.name}_missing"
        graph.initializer.append(numpy_helper.from_array(values, statistics))
        nodes.append(helper.make_node("IsNaN", [node.input[0]], [missing], name=f"{node.name}_isnan"))
        nodes.append(
            helper.make_node("Where", [missing, statistics, node.input[0]], [node.output[0]], name=node.name)
        )
    del graph.node[:]
    graph.node.extend(nodes)


def convertible(pipeline: Any, features: Sequence[FeatureSpec]) -> bool:
    """Whether the pipeline is one this module converts (see the module's docstring)."""
    estimator = pipeline.named_steps["estimator"]
    text = [t for name, t, _ in pipeline.named_steps["preprocess"].transformers_ if name.startswith("text:")]
    return type(estimator).__name__ in ONNX_ESTIMATORS and all(reproducible(t) for t in text)


def same_labels(expected: np.ndarray, actual: np.ndarray) -> bool:
    """Whether each row's most probable class is the same, except on a row whose two most probable
    classes scikit-learn itself ties (within :data:`TOLERANCE`): a tree ensemble averages leaf
    fractions, so 15 of 30 trees give exactly 0.5 each, and the twin's float32 sums (or
    scikit-learn's float64 rounding) tip such a tie either way."""
    leading = np.sort(expected, axis=1)[:, -2:]
    tied = leading[:, 1] - leading[:, 0] <= TOLERANCE
    return bool(((expected.argmax(axis=1) == actual.argmax(axis=1)) | tied).all())


def dumps_onnx(model: Any, records: Sequence[dict[str, Any]]) -> bytes | None:
    """The ONNX twin of a :class:`~motadata_ai.adapters.sklearn.trainer.SklearnModel`, checked
    against its predictions of ``records``; ``None`` when the pipeline is not one this module
    converts, skl2onnx or onnxruntime is not installed, or the twin predicts otherwise."""
    if not convertible(model.pipeline, model.features) or not records:
        return None
    try:
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    except ImportError:
        return None
    estimator = model.pipeline.named_steps["estimator"]
    pipeline, text = text_as_input(model.pipeline)
    width = {name: len(column.terms) for name, column in text.items()}  # a text column's TF-IDF
    inputs = [
        (f.name, StringTensorType([None, 1]))
        if f.type == "categorical"
        else (f.name, DoubleTensorType([None, width.get(f.name, 1)]))
        for f in model.features
    ]
    try:
        graph = convert_sklearn(
            pipeline,
            initial_types=inputs,
            options={id(estimator): {"zipmap": False}},
            target_opset=_OPSETS,
        )
        inputs_whole(graph.graph, list(text))
        _float64_imputers(graph.graph)
        if type(estimator).__name__ in TREE_ESTIMATORS:
            float32_trees(graph.graph, estimator)
        for key, value in (
            (FEATURES_KEY, json.dumps([[f.name, f.type] for f in model.features])),
            (CLASSES_KEY, json.dumps(list(model.classes))),
            (TEXT_KEY, json.dumps({name: column.state() for name, column in text.items()})),
        ):
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, value
        data: bytes = graph.SerializeToString()
        twin = load_onnx(data)
    except Exception as exc:  # a pipeline skl2onnx cannot convert keeps the main artifact alone
        logger.info("no ONNX twin: the conversion failed: %s", exc)
        return None
    if twin is None:
        return None
    expected = np.asarray(model.predict_proba(records), dtype=np.float64)
    actual = np.asarray(twin.predict_proba(records), dtype=np.float64)
    if (
        expected.shape != actual.shape
        or not same_labels(expected, actual)
        or np.abs(expected - actual).max() > TOLERANCE
    ):
        logger.info("no ONNX twin: its predictions differ from scikit-learn's")
        return None
    return data
