"""The trees of an ONNX twin compare as scikit-learn's do.

scikit-learn casts a tree's input to float32 and compares it with float64 thresholds. skl2onnx,
given float64 inputs, writes thresholds meant for float64 comparisons into the float32 attribute
its converter uses, so a value beside a split took the other branch (up to a whole class
probability apart on the test models). :func:`float32_trees` casts the tree node's input to
float32 and writes, for each split, the float32 threshold that splits float32 values exactly as
scikit-learn's float64 one does (:func:`float32_split`), read from the fitted trees themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TREE_ESTIMATORS", "float32_split", "float32_trees"]

TREE_ESTIMATORS: frozenset[str] = frozenset(
    {"DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier", "GradientBoostingClassifier"}
)
"""The tree models converted, with their splits rewritten by :func:`float32_trees`."""


def float32_split(threshold: float) -> float:
    """The largest float32 ``w`` with ``x <= w`` exactly when ``x <= threshold`` for every float32
    ``x`` (``threshold`` a float64): the nearest float32, one step lower when it lies above.
    (skl2onnx's ``sklearn_threshold`` means the same but compares a float32 with a Python float,
    which NumPy 2 does in float32, so it keeps the rounded-up value.)"""
    with np.errstate(over="ignore"):  # beyond float32's range: inf, then the largest float32
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


def float32_trees(graph: Any, estimator: Any) -> None:
    """Make the tree node compare as scikit-learn does (see the module doc): its input cast to
    float32, each split's threshold the float32 one equivalent to the fitted float64 threshold,
    its probabilities cast back to float64. Raises ``ValueError`` when the node's splits are not
    the fitted trees' (a converter that numbers them otherwise: the pipeline keeps no twin)."""
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
