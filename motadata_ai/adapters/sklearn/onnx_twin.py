"""The ONNX twin of a scikit-learn model: the same pipeline served by onnxruntime, without
importing scikit-learn, scipy or pandas.

:func:`dumps_onnx` converts a fitted pipeline with skl2onnx when every feature is numeric or
categorical and the estimator is linear or a tree model (:data:`ONNX_ESTIMATORS`), and keeps the
result only when onnxruntime predicts the given records as scikit-learn does (the same labels,
probabilities within :data:`TOLERANCE`; on a row where two classes tie, either label:
:func:`same_labels`). What is left out, and why (measured with skl2onnx 1.20 and onnxruntime
1.32):

* text features: the converted TF-IDF lowercases through a C++ locale that a machine may lack
  (``StringNormalizer`` fails to load without ``en_US.UTF-8``) and tokenises with another regular
  expression engine than Python's.

Numeric inputs stay float64 through the graph: onnxruntime has no float64 ``Imputer``, so the
converted ``Imputer`` node is replaced by ``IsNaN`` and ``Where`` over the same statistics.

Trees (:data:`TREE_ESTIMATORS`) compare as scikit-learn's do. scikit-learn casts a tree's input to
float32 and compares it with float64 thresholds; skl2onnx, given float64 inputs, writes
thresholds meant for float64 comparisons into the float32 attribute the converter uses, so a value
beside a split took the other branch (up to a whole class probability apart on the test models).
:func:`_float32_trees` casts the tree node's input to float32 and writes, for each split, the
float32 threshold that splits float32 values exactly as scikit-learn's float64 one does
(:func:`float32_split`), read from the fitted trees themselves.

:class:`OnnxModel` is the loaded twin; the feature signature and the class labels travel in the
model's metadata. The bytes are verified against the registered SHA-256 before they get here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from motadata_ai.domain.values.ml import FeatureSpec
from motadata_ai.ports.ml import ArtifactRefused, TrainedModel

logger = logging.getLogger(__name__)

TREE_ESTIMATORS: frozenset[str] = frozenset(
    {"DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier"}
)
"""The tree models converted, with their splits rewritten by :func:`_float32_trees`."""
ONNX_ESTIMATORS: frozenset[str] = frozenset({"LogisticRegression", "SGDClassifier"}) | TREE_ESTIMATORS
"""The estimators (class names) whose ONNX conversion predicts exactly as scikit-learn does."""
TOLERANCE = 1e-5
"""The largest difference of a probability between the twin and scikit-learn that is accepted."""
FEATURES_KEY = "motadata.features"
CLASSES_KEY = "motadata.classes"
_OPSETS = {"": 17, "ai.onnx.ml": 3}


def _feeds(records: Sequence[dict[str, Any]], features: Sequence[FeatureSpec]) -> dict[str, Any]:
    """One ``(n, 1)`` input per feature, valued as the direct transform values them."""
    feeds: dict[str, Any] = {}
    for spec in features:
        if spec.type == "numeric":
            feeds[spec.name] = np.array(
                [[math.nan if r[spec.name] is None else r[spec.name]] for r in records], dtype=np.float64
            )
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
        except Exception as exc:
            raise ArtifactRefused(f"not an ONNX twin of this trainer: {exc}", reason="unloadable") from exc
        inputs = {i.name for i in self._session.get_inputs()}
        outputs = {o.name for o in self._session.get_outputs()}
        if (
            inputs != {f.name for f in self.features}
            or any(f.type == "text" for f in self.features)
            or "probabilities" not in outputs
        ):
            raise ArtifactRefused(
                "the ONNX twin's inputs or outputs do not match its signature", reason="unexpected_structure"
            )
        self._size = len(data)

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in probability-column order."""
        return self._classes

    def predict_proba(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """Probabilities from one onnxruntime run over the records."""
        (probabilities,) = self._session.run(["probabilities"], _feeds(records, self.features))
        result: list[list[float]] = np.asarray(probabilities, dtype=np.float64).tolist()
        return result

    def size_bytes(self) -> int:
        """The graph's size (its weights are its initialisers)."""
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


def float32_split(threshold: float) -> float:
    """The largest float32 ``w`` with ``x <= w`` exactly when ``x <= threshold`` for every float32
    ``x`` (``threshold`` a float64): the nearest float32, one step lower when it lies above.
    (skl2onnx's ``sklearn_threshold`` means the same but compares a float32 with a Python float,
    which NumPy 2 does in float32, so it keeps the rounded-up value.)"""
    split = np.float32(threshold)
    if np.float64(split) > np.float64(threshold):
        split = np.nextafter(split, np.float32(-np.inf))
    return float(split)


def _fitted_trees(estimator: Any) -> list[Any]:
    """The estimator's fitted ``tree_`` objects in the order skl2onnx numbers them (``nodes_treeids``):
    a gradient boosting's stage ``i`` and class column ``c`` is tree ``i * columns + c``."""
    if hasattr(estimator, "tree_"):
        return [estimator.tree_]
    stages = estimator.estimators_
    if getattr(stages, "ndim", 1) == 2:  # gradient boosting: (stages, columns) of regressors
        return [tree.tree_ for row in stages for tree in row]
    return [tree.tree_ for tree in stages]


def _float32_trees(graph: Any, estimator: Any) -> None:
    """Make the tree node compare as scikit-learn does (see the module doc): its input cast to
    float32, each split's threshold the float32 one equivalent to the fitted float64 threshold,
    its probabilities cast back to float64. Raises ``ValueError`` when the node's splits are not
    the fitted trees' (a converter that numbers them otherwise keeps no twin)."""
    from onnx import TensorProto, helper

    (node,) = [n for n in graph.node if n.op_type == "TreeEnsembleClassifier"]
    trees = _fitted_trees(estimator)
    attributes = {a.name: a for a in node.attribute}
    thresholds = []
    for tree_id, node_id, mode, feature in zip(
        attributes["nodes_treeids"].ints,
        attributes["nodes_nodeids"].ints,
        attributes["nodes_modes"].strings,
        attributes["nodes_featureids"].ints,
        strict=True,
    ):
        tree = trees[tree_id]
        if mode == b"LEAF":
            thresholds.append(0.0)
            continue
        if mode != b"BRANCH_LEQ" or int(tree.feature[node_id]) != feature:
            raise ValueError(f"split {tree_id}/{node_id} is not the fitted tree's")
        thresholds.append(float32_split(tree.threshold[node_id]))
    values = attributes["nodes_values"]
    del values.floats[:]
    values.floats.extend(thresholds)
    source, probabilities = node.input[0], node.output[1]
    node.input[0], node.output[1] = f"{source}_float32", f"{probabilities}_float32"
    nodes = []
    for other in graph.node:
        if other is node:
            nodes.append(helper.make_node("Cast", [source], [node.input[0]], to=TensorProto.FLOAT))
            nodes.append(other)
            nodes.append(helper.make_node("Cast", [node.output[1]], [probabilities], to=TensorProto.DOUBLE))
        else:
            nodes.append(other)
    del graph.node[:]
    graph.node.extend(nodes)
    for output in graph.output:
        if output.name == probabilities:
            output.type.tensor_type.elem_type = TensorProto.DOUBLE


def convertible(pipeline: Any, features: Sequence[FeatureSpec]) -> bool:
    """Whether the pipeline is one this module converts (see the module's docstring)."""
    estimator = pipeline.named_steps["estimator"]
    return type(estimator).__name__ in ONNX_ESTIMATORS and all(
        f.type in ("numeric", "categorical") for f in features
    )


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
    inputs = [
        (f.name, DoubleTensorType([None, 1]) if f.type == "numeric" else StringTensorType([None, 1]))
        for f in model.features
    ]
    try:
        graph = convert_sklearn(
            model.pipeline,
            initial_types=inputs,
            options={id(estimator): {"zipmap": False}},
            target_opset=_OPSETS,
        )
        _float64_imputers(graph.graph)
        if type(estimator).__name__ in TREE_ESTIMATORS:
            _float32_trees(graph.graph, estimator)
        for key, value in (
            (FEATURES_KEY, json.dumps([[f.name, f.type] for f in model.features])),
            (CLASSES_KEY, json.dumps(list(model.classes))),
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
